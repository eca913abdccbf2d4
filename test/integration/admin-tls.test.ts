import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { adminRequest } from '../../src/cli/admin-client.js';
import { selfSignedCertificate, type CertificatePair } from '../../src/dev/self-signed.js';
import { showJson, settleAudit } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

/** The admin endpoint over HTTPS, its callers proving themselves with a certificate the configured CA signed. */
describe('the admin endpoint with client certificates', () => {
  let h: Harness;
  let dir: string;
  let operator: CertificatePair;
  let stranger: CertificatePair;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-admin-tls-'));
    operator = await selfSignedCertificate('dba-alice');
    stranger = await selfSignedCertificate('dba-mallory');
    // A self-signed certificate is its own CA: trusting it admits exactly its holder.
    writeFileSync(join(dir, 'operators.pem'), operator.cert);
    h = await Harness.start({
      admin: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key', 'client-ca': join(dir, 'operators.pem') } },
    });
    url = `https://127.0.0.1:${h.gateway.admin?.port ?? 0}`;
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS, refuses callers without a certificate the CA signed, and records the certificate’s name as who terminated', async () => {
    const ca = Buffer.from(h.certificate.cert);
    assert.equal((await adminRequest({ url, ca }, 'GET', '/healthz')).status, 200, 'probes need no certificate');
    assert.equal((await adminRequest({ url, ca }, 'GET', '/sessions')).status, 401);
    assert.equal(
      (await adminRequest({ url, ca, cert: Buffer.from(stranger.cert), key: Buffer.from(stranger.key) }, 'GET', '/sessions')).status,
      401,
    );
    const alice = { url, ca, cert: Buffer.from(operator.cert), key: Buffer.from(operator.key) };
    assert.equal((await adminRequest(alice, 'GET', '/metrics')).status, 200);

    const client = new pg.Client(pgOptions(h, await h.token()));
    client.on('error', () => undefined);
    await client.connect();
    const id = String((await client.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
    const listed = await adminRequest(alice, 'GET', '/sessions');
    assert.deepEqual(
      (listed.body as { sessions: { id: string }[] }).sessions.map((s) => s.id),
      [id],
    );
    assert.equal((await adminRequest(alice, 'POST', `/sessions/${id}/terminate`, { by: 'alice' })).status, 200);
    await client.end().catch(() => undefined);
    await settleAudit(h);
    const note = (await showJson(h, id)).find((e) => e['kind'] === 'Terminated');
    assert.match(String(note?.['detail']), /admin-terminated by alice \(client-certificate:dba-alice, from 127\.0\.0\.1\)/);
  });
});
