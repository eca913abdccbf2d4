import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import pg from 'pg';
import { selfSignedCertificate } from '../../src/dev/self-signed.js';
import { ConfigError } from '../../src/config/config-error.js';
import { settleAudit, sessionsJson } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

type PgError = Error & { code?: string };

async function connect(h: Harness, token: string, database = CONNECTION): Promise<{ client: pg.Client; ended: Promise<PgError> }> {
  const client = new pg.Client(pgOptions(h, token, { database }));
  const ended = new Promise<PgError>((resolve) => client.on('error', resolve));
  await client.connect();
  return { client, ended };
}

/** A reload (SIGHUP in `idgate serve`) applies connections and identity-map; a group by display name is resolved again. */
describe('configuration reload', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      graph: {},
      identityMap: [{ 'entra-group': 'night-shift', connection: 'other-db', scope: 'read' }],
      prepare: (e) => void e.directory.createGroup('night-shift'),
    });
  });
  after(async () => {
    await h.stop();
  });

  it('ends the sessions the new identity-map no longer grants as they were, keeps the others, and judges new logins by it', async () => {
    const keeps = await h.agent('keeps-access');
    const narrowed = await h.agent('gets-narrowed', [h.groupId]);
    const kept = await connect(h, await h.token({ azp: keeps.appId, oid: keeps.objectId, groups: [], roles: ['Records.Read'] }));
    const cut = await connect(h, await h.agentToken(narrowed));
    const { endedSessions } = await h.gateway.reload(
      h.configWith((doc) => {
        doc['identity-map'][0] = { 'entra-group': h.groupId, connection: CONNECTION, scope: 'read' }; // was all
      }),
    );
    assert.equal(endedSessions, 1);
    const fatal = await cut.ended;
    assert.equal(fatal.code, '57P01');
    assert.match(fatal.message, /configuration no longer grants this access/);
    assert.equal((await kept.client.query('SELECT 1 AS n')).rows[0].n, 1, 'a session granted the same as before carries on');
    const again = await connect(h, await h.agentToken(narrowed));
    await assert.rejects(again.client.query('DELETE FROM records'), (e: PgError) => e.code === '42501', 'the new scope applies');
    await again.client.end();
    await kept.client.end();
    await cut.client.end().catch(() => undefined);
    await settleAudit(h);
    assert.equal((await sessionsJson(h, { identity: narrowed.appId })).filter((s) => s['endReason'] === 'access-changed').length, 1);
  });

  it('resolves group display names again on reload', async () => {
    const renamed = h.entra.directory.createGroup('day-shift');
    const agent = await h.agent('day-worker', [renamed.id]);
    await assert.rejects(connect(h, await h.agentToken(agent), 'other-db'), /not granted connection/);
    await h.gateway.reload(
      h.configWith((doc) => {
        doc['identity-map'][2] = { 'entra-group': 'day-shift', connection: 'other-db', scope: 'read' };
      }),
    );
    const { client } = await connect(h, await h.agentToken(agent), 'other-db');
    await client.end();
  });

  it('refuses a reload that changes what needs a restart, or names an unknown group, and keeps the configuration in force', async () => {
    const before = h.gateway.config;
    await assert.rejects(
      h.gateway.reload(h.configWith((doc) => void ((doc['listen'] as Record<string, unknown>)['max-connections'] = 5))),
      (e) => e instanceof ConfigError && /listen: changes take effect only at a restart/.test(e.message),
    );
    await assert.rejects(
      h.gateway.reload(
        h.configWith((doc) => void (doc['identity-map'][2] = { 'entra-group': 'no-such-group', connection: 'other-db', scope: 'read' })),
      ),
      /no Entra group is named "no-such-group"/,
    );
    assert.equal(h.gateway.config, before);
    const { client } = await connect(h, await h.agentToken(await h.agent('after-refusals')));
    await client.end();
  });

  it('reads the TLS certificate and key again: new connections get the rotated one, open sessions keep theirs, a key that does not fit is refused', async () => {
    const before = await servedCertificate(h.port);
    const agent = await h.agent('tls-rotation');
    const open = await connect(h, await h.agentToken(agent));
    const rotated = await selfSignedCertificate('rotated.example');
    writeFileSync(join(h.workDir, 'server.crt'), rotated.cert);
    writeFileSync(join(h.workDir, 'server.key'), rotated.key);
    await h.gateway.reload(h.configWith(() => undefined));
    const after = await servedCertificate(h.port);
    assert.notEqual(after, before);
    assert.match(after, /rotated\.example/);
    assert.equal((await open.client.query('SELECT 1 AS n')).rows[0].n, 1, 'the open session carries on');

    const failures = (): number => Number(/^idgate_config_reload_failures_total (\d+)$/m.exec(metrics)?.[1] ?? 'NaN');
    let metrics = await h.gateway.services.metrics.text();
    const failedBefore = failures();
    const other = await selfSignedCertificate('other.example');
    writeFileSync(join(h.workDir, 'server.key'), other.key); // the key of another certificate
    await assert.rejects(
      h.gateway.reload(() => h.configWith(() => undefined)),
      (e) => e instanceof ConfigError && /listen\.tls: the certificate and key cannot be used together/.test(e.message),
    );
    metrics = await h.gateway.services.metrics.text();
    assert.equal(failures(), failedBefore + 1);
    assert.equal(await servedCertificate(h.port), after, 'the certificate in force stays');
    const late = await connect(h, await h.agentToken(agent));
    await late.client.end();
    writeFileSync(join(h.workDir, 'server.key'), rotated.key);
    await open.client.end();
  });
});

/** The subject and fingerprint of the certificate the gateway presents to a new client (SSLRequest, then TLS). */
async function servedCertificate(port: number): Promise<string> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const request = Buffer.alloc(8);
  request.writeInt32BE(8, 0);
  request.writeInt32BE(80877103, 4);
  socket.write(request);
  const [answer] = (await once(socket, 'data')) as [Buffer];
  assert.equal(answer.toString('latin1'), 'S');
  const secure = connectTls({ socket, rejectUnauthorized: false });
  await once(secure, 'secureConnect');
  const certificate = secure.getPeerCertificate();
  secure.destroy();
  return `${String(certificate.subject.CN)} ${certificate.fingerprint256}`;
}
