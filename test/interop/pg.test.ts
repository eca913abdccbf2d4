import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { from, to } from 'pg-copy-streams';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

describe('node-postgres (pg) through the gateway', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h.stop();
  });

  async function connect(token?: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
    const client = new pg.Client(pgOptions(h, token ?? (await h.token()), extra));
    await client.connect();
    return client;
  }

  async function refusal(token: string, extra: Partial<pg.ClientConfig> = {}): Promise<{ code: string; message: string }> {
    const client = new pg.Client(pgOptions(h, token, extra));
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
    } catch (e) {
      const err = e as { code: string; message: string };
      return { code: err.code, message: err.message };
    }
    throw new Error('connected, but should have been refused');
  }

  it('logs in with a token and runs simple and extended queries as the gateway’s upstream role', async () => {
    const client = await connect();
    const simple = await client.query('SELECT current_user, current_database()');
    assert.deepEqual(simple.rows[0], { current_user: 'sync_writer', current_database: 'records' });
    const extended = await client.query('SELECT title FROM records WHERE id = $1', [7]);
    assert.equal(extended.rows[0].title, 'record 7');
    await client.end();
    await h.assertNoLeaks();
  });

  it('runs named prepared statements repeatedly', async () => {
    const client = await connect();
    for (let i = 1; i <= 5; i++) {
      const r = await client.query({ name: 'by-id', text: 'SELECT id, title FROM records WHERE id = $1', values: [i] });
      assert.equal(r.rows[0].title, `record ${i}`);
    }
    await client.end();
  });

  it('shows the upstream’s real ParameterStatus values, and its real backend pid in BackendKeyData with a secret of the gateway’s own', async () => {
    const client = await connect(undefined, { application_name: 'pg-interop' });
    const inner = client as unknown as { processID: number; secretKey: number };
    const backendPid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    assert.equal(inner.processID, backendPid, 'pg_backend_pid() is the pid the client was given');
    const listed = await client.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND application_name LIKE '% | pg-interop'",
      [inner.processID],
    );
    assert.equal(listed.rows[0].n, 1, 'the pid names this session in pg_stat_activity');
    // The gateway puts the agent first and keeps the client's own name after it.
    const appName = (await client.query('SHOW application_name')).rows[0].application_name;
    assert.match(appName, /^.+ \| pg-interop$/);
    await client.end();
  });

  it('copies in and out', async () => {
    const client = await connect();
    await client.query('CREATE TEMP TABLE pg_copy (n int, t text)');
    const rows = Array.from({ length: 1000 }, (_, i) => `${i}\trow ${i}\n`).join('');
    await pipeline(Readable.from([rows]), client.query(from('COPY pg_copy FROM STDIN')));
    assert.equal((await client.query('SELECT count(*)::int AS n FROM pg_copy')).rows[0].n, 1000);
    let out = '';
    const stream = client.query(to('COPY (SELECT * FROM pg_copy ORDER BY n) TO STDOUT'));
    for await (const chunk of stream) out += String(chunk);
    assert.equal(out, rows);
    await client.end();
  });

  it('reports errors mid-transaction and the session stays usable', async () => {
    const client = await connect();
    await client.query('BEGIN');
    await assert.rejects(client.query('SELECT 1/0'), (e: { code?: string }) => e.code === '22012');
    await assert.rejects(client.query('SELECT 1'), (e: { code?: string }) => e.code === '25P02');
    await client.query('ROLLBACK');
    assert.equal((await client.query('SELECT 2 AS n')).rows[0].n, 2);
    await client.end();
  });

  const refusals: [string, () => Promise<string>, string, RegExp][] = [
    ['a malformed token', async () => 'not-a-token', '28P01', /not a JWT/],
    ['an expired token', () => h.token({}, { expiresIn: -600 }), '28P01', /expired/],
    ['a token not yet valid', () => h.token({}, { notBefore: 600 }), '28P01', /not valid yet/],
    ['a token for another audience', () => h.token({ aud: 'https://graph.microsoft.com' }), '28P01', /another audience/],
    ['a token for another tenant', () => h.token({ tid: '11111111-2222-3333-4444-555555555555' }), '28P01', /another tenant/],
    ['a token from another issuer', () => h.token({ iss: 'https://evil.example/v2.0' }), '28P01', /issuer/],
    ['a token signed by an unknown key', () => h.token({}, { unpublishedKey: true }), '28P01', /key that is not in the tenant/],
    ['a Graph token (nonce header)', () => h.token({}, { header: { nonce: 'abc' } }), '28P01', /nonce/],
    ['a delegated user token', () => h.token({ idtyp: 'user', scp: 'Records.Read' }), '28P01', /app-only/],
    [
      'a token whose groups are not mapped',
      () => h.token({ groups: ['00000000-0000-0000-0000-000000000000'] }),
      '28000',
      /not granted connection/,
    ],
  ];
  for (const [name, makeToken, code, message] of refusals) {
    it(`refuses ${name} with ${code}`, async () => {
      const token = await makeToken();
      const r = await refusal(token);
      assert.equal(r.code, code);
      assert.match(r.message, message);
      assert.ok(!r.message.includes(token), 'the error must not echo the token');
    });
  }

  it('refuses a connection the token is not mapped to (28000) and an unknown one (3D000)', async () => {
    const roleToken = await h.token({ groups: [], roles: ['Records.Read'] });
    assert.equal((await refusal(roleToken, { database: 'other-db' })).code, '28000');
    assert.equal((await refusal(await h.token(), { database: 'no-such-connection' })).code, '3D000');
    const client = await connect(roleToken); // the app role maps to records-api
    await client.end();
  });

  it('refuses a tampered token (bad signature)', async () => {
    const token = await h.token();
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    claims.groups = [h.groupId, '99999999-9999-9999-9999-999999999999'];
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const r = await refusal(forged);
    assert.equal(r.code, '28P01');
    assert.match(r.message, /signature/);
  });

  it('never writes a token into its logs', async () => {
    const token = await h.token();
    const client = await connect(token);
    await client.end();
    await refusal(await h.token({}, { expiresIn: -600 }));
    const signature = token.split('.')[2] ?? 'x';
    assert.ok(h.logLines.length > 0);
    assert.ok(!h.logLines.some((l) => l.includes(signature)), 'a token signature appeared in the log');
    await h.assertNoLeaks();
  });
});
