import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

const ADMIN_TOKEN = 'workers-approvals-admin-token-1';
const ROLE = 'Records.ApprovedWriter';
type PgError = Error & { code?: string };

/**
 * With `listen.workers: 2` a request lives in the worker whose session asked; the primary's admin
 * endpoint lists every worker's and takes each decision to the worker that holds the request.
 */
describe('approvals across a gateway’s workers', () => {
  let h: Harness;
  let gateway: Awaited<ReturnType<typeof startIdgate>>;
  let port: number;
  let base: string;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

  before(async () => {
    h = await Harness.start({
      identityMap: [{ 'entra-app-role': ROLE, connection: CONNECTION, scope: 'read write:records approve:write:records' }],
    });
    port = await freePort();
    const adminPort = await freePort();
    base = `http://127.0.0.1:${adminPort}`;
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port, workers: 2 };
      d['recordings'] = { path: join(h.workDirectory, 'box.db') };
      d['node-id'] = 'box';
      d['admin'] = { port: adminPort, 'token-env': 'IDGATE_ADMIN_TOKEN' };
    });
    gateway = await startIdgate(['serve', '--config', file], /gateway listening[\s\S]*gateway listening/, {
      ...env,
      IDGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    });
  });
  after(async () => {
    if (gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await h.stop();
  });

  const decide = async (id: string, verb: 'approve' | 'refuse'): Promise<Response> =>
    fetch(`${base}/approvals/${id}/${verb}`, { method: 'POST', headers, body: JSON.stringify({ by: 'dba', reason: 'across workers' }) });

  it('lists every worker’s requests, answers each in its worker, and the approved statements run there once', async () => {
    const clients: { client: pg.Client; id: number; request: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [ROLE] }), { port }));
      client.on('error', () => undefined);
      await client.connect();
      const failed = await client.query(`DELETE FROM records WHERE id = ${60 + i}`).then(
        () => assert.fail('ran'),
        (e: unknown) => e as PgError,
      );
      assert.equal(failed.code, 'IGA01');
      clients.push({ client, id: 60 + i, request: /request ([0-9a-f]{12})/.exec(failed.message)?.[1] ?? '' });
    }
    const sessions = (await (await fetch(`${base}/sessions`, { headers })).json()) as { sessions: { node: string }[] };
    const listed = (await (await fetch(`${base}/approvals`, { headers })).json()) as { approvals: { id: string; node: string }[] };
    assert.deepEqual(listed.approvals.map((a) => a.id).sort(), clients.map((c) => c.request).sort());
    assert.deepEqual(
      [...new Set(listed.approvals.map((a) => a.node))].sort(),
      [...new Set(sessions.sessions.map((s) => s.node))].sort(),
      'each request is listed by the worker that holds it',
    );
    for (const c of clients) assert.equal((await decide(c.request, 'approve')).status, 200);
    for (const c of clients) assert.equal((await c.client.query(`DELETE FROM records WHERE id = ${c.id}`)).rowCount, 1);
    const used = await decide(clients[0]?.request ?? '', 'approve');
    assert.equal(used.status, 409, 'a used request cannot be answered again, whichever worker holds it');
    assert.equal(((await used.json()) as { error: string }).error, 'approval-not-pending');
    assert.equal((await decide('0123456789ab', 'refuse')).status, 404);
    await Promise.all(clients.map((c) => c.client.end()));
  });
});
