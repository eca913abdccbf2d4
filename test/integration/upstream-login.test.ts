import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { pgOptions } from '../support/client-options.js';
import { Harness, recordsConnection } from '../support/harness.js';

const FLAVOURS = [
  'scram',
  'scram-saslprep',
  'md5',
  'cleartext',
  'tls-require',
  'tls-verify-full',
  'tls-prefer',
  'tls-verify-ca',
  'unix-socket',
  'full',
  'wrong-password',
  'unreachable',
  'no-such-database',
] as const;

describe('the gateway’s own upstream login', () => {
  let h: Harness;
  before(async () => {
    const deadPort = await freePort();
    h = await Harness.start({
      upstreamTls: true,
      connections: (cluster) => {
        // Each entry names itself: the spread's own name is overridden.
        const base = recordsConnection(cluster, 'scram', { 'connect-timeout-seconds': 2 });
        return [
          { ...base, name: 'scram' },
          { ...base, name: 'scram-saslprep', user: 'prep_writer', 'password-env': 'PREP_WRITER_PASSWORD' },
          { ...base, name: 'md5', user: 'md5_writer', 'password-env': 'MD5_WRITER_PASSWORD' },
          { ...base, name: 'cleartext', user: 'plain_writer', 'password-env': 'PLAIN_WRITER_PASSWORD' },
          { ...base, name: 'tls-require', tls: 'require' },
          { ...base, name: 'tls-verify-full', tls: 'verify-full', ca: 'server.crt' },
          { ...base, name: 'tls-prefer', tls: 'prefer' },
          { ...base, name: 'tls-verify-ca', tls: 'verify-ca', ca: 'server.crt' },
          // A host that is a directory is the server's Unix-domain socket there, as with libpq (never TLS).
          { ...base, name: 'unix-socket', host: cluster.socketDirectory, tls: 'require' },
          // A role whose connection slots are all taken: the upstream refuses with its own 53300.
          { ...base, name: 'full', user: 'full_writer', 'password-env': 'SYNC_WRITER_PASSWORD' },
          { ...base, name: 'wrong-password', 'password-env': 'MD5_WRITER_PASSWORD' },
          { ...base, name: 'unreachable', port: deadPort },
          { ...base, name: 'no-such-database', database: 'nope' },
        ];
      },
      identityMap: FLAVOURS.map((name) => ({ 'entra-app-role': 'Upstream.Test', connection: name, scope: 'all' })),
    });
  });
  after(async () => {
    await h.stop();
  });

  async function connectTo(database: string): Promise<pg.Client> {
    const client = new pg.Client(pgOptions(h, await h.token({ roles: ['Upstream.Test'] }), { database }));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  for (const [name, role, ssl] of [
    ['scram', 'sync_writer', false],
    ['scram-saslprep', 'prep_writer', false],
    ['md5', 'md5_writer', false],
    ['cleartext', 'plain_writer', false],
    ['tls-require', 'sync_writer', true],
    ['tls-verify-full', 'sync_writer', true],
    ['tls-prefer', 'sync_writer', true],
    ['tls-verify-ca', 'sync_writer', true],
    ['unix-socket', 'sync_writer', false],
  ] as const) {
    it(`logs in upstream with ${name}`, async () => {
      const client = await connectTo(name);
      const r = await client.query('SELECT current_user AS who, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      assert.equal(r.rows[0].who, role);
      assert.equal(r.rows[0].ssl, ssl);
      await client.end();
    });
  }

  it('gives the client the upstream’s own 53300 when it has no slot free, which drivers retry', async () => {
    await h.cluster.sql(
      `CREATE ROLE full_writer LOGIN CONNECTION LIMIT 0 PASSWORD '${h.passwords['sync_writer'] ?? ''}'; GRANT CONNECT ON DATABASE records TO full_writer`,
    );
    await assert.rejects(
      connectTo('full'),
      (e: { code?: string; message: string }) => e.code === '53300' && /has no connection slot free; try again/.test(e.message),
    );
  });

  it('never sends the client’s user name or database upstream', async () => {
    const client = await connectTo('scram');
    const r = await client.query('SELECT current_user AS who, current_database() AS db');
    assert.deepEqual(r.rows[0], { who: 'sync_writer', db: 'records' });
    assert.ok(!h.cluster.serverLog.includes('pg-agent'));
    await client.end();
  });

  const failures: [string, RegExp][] = [
    ['wrong-password', /refused the gateway's credential/],
    ['unreachable', /cannot be reached/],
    ['no-such-database', /refused the session/],
  ];
  for (const [name, message] of failures) {
    it(`gives the client 08006 with a clear message when the upstream is ${name}`, async () => {
      const started = Date.now();
      await assert.rejects(connectTo(name), (e: { code?: string; message: string }) => e.code === '08006' && message.test(e.message));
      assert.ok(Date.now() - started < 3000, 'no hang');
    });
  }

  it('keeps the upstream password out of errors and logs', async () => {
    const secret = h.passwords['sync_writer'] ?? 'unset';
    assert.ok(!h.logLines.some((l) => l.includes(secret)));
    await h.assertNoLeaks();
  });
});
