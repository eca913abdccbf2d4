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

interface Box {
  readonly h: Harness;
  readonly gateway: Awaited<ReturnType<typeof startIdgate>>;
  readonly port: number;
  readonly base: string;
}

const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** A gateway of two workers, its admin endpoint on the primary; `approvals` added to the configuration. */
async function startBox(approvals?: Record<string, unknown>): Promise<Box> {
  const h = await Harness.start({
    identityMap: [{ 'entra-app-role': ROLE, connection: CONNECTION, scope: 'read write:records approve:write:records' }],
  });
  const port = await freePort();
  const adminPort = await freePort();
  const { file, env } = h.writeConfigFile((d) => {
    d['listen'] = { ...(d['listen'] as Record<string, unknown>), port, workers: 2 };
    d['recordings'] = { path: join(h.workDirectory, 'box.db') };
    d['node-id'] = 'box';
    d['admin'] = { port: adminPort, 'token-env': 'IDGATE_ADMIN_TOKEN' };
    if (approvals !== undefined) d['approvals'] = approvals;
  });
  const gateway = await startIdgate(['serve', '--config', file], /gateway listening[\s\S]*gateway listening/, {
    ...env,
    IDGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  return { h, gateway, port, base: `http://127.0.0.1:${adminPort}` };
}

async function stopBox(box: Box): Promise<void> {
  if (box.gateway.child.exitCode === null) {
    box.gateway.child.kill('SIGTERM');
    await box.gateway.exited;
  }
  await box.h.stop();
}

/** An agent's session; each token a new identity unless one is given. */
async function agent(box: Box, token?: string, options?: string): Promise<pg.Client> {
  const extra = { port: box.port, ...(options !== undefined ? { options } : {}) };
  const client = new pg.Client(pgOptions(box.h, token ?? (await box.h.token({ groups: [], roles: [ROLE] })), extra));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Two sessions of one agent, one in each worker (connections are dealt to the workers in turn; checked). */
async function oneAgentPerWorker(box: Box): Promise<[pg.Client, pg.Client]> {
  const token = await box.h.token({ groups: [], roles: [ROLE] });
  const first = await agent(box, token);
  const second = await agent(box, token);
  const sessions = (await (await fetch(`${box.base}/sessions`, { headers })).json()) as { sessions: { node: string }[] };
  assert.equal(new Set(sessions.sessions.map((s) => s.node)).size, 2, 'the two sessions are in different workers');
  return [first, second];
}

async function refusal(client: pg.Client, sql: string): Promise<{ code: string | undefined; request: string }> {
  const failed = await client.query(sql).then(
    () => assert.fail(`ran: ${sql}`),
    (e: unknown) => e as PgError,
  );
  return { code: failed.code, request: /request ([0-9a-f]{12})/.exec(failed.message)?.[1] ?? '' };
}

async function listed(box: Box): Promise<{ id: string; node: string; state: string; sql: string; sessionId: string }[]> {
  return (
    (await (await fetch(`${box.base}/approvals`, { headers })).json()) as {
      approvals: { id: string; node: string; state: string; sql: string; sessionId: string }[];
    }
  ).approvals;
}

const decideIn = async (box: Box, id: string, verb: 'approve' | 'refuse'): Promise<Response> =>
  fetch(`${box.base}/approvals/${id}/${verb}`, { method: 'POST', headers, body: JSON.stringify({ by: 'dba', reason: 'across workers' }) });

const rowExists = async (box: Box, id: number): Promise<boolean> =>
  (await box.h.cluster.sql(`SELECT count(*) FROM records WHERE id = ${id}`, 'records')).trim() === '1';

/**
 * With `listen.workers: 2` a request lives in the worker whose session asked; the primary's admin
 * endpoint lists every worker's and takes each decision to the worker that holds the request.
 */
describe('approvals across a gateway’s workers', () => {
  let box: Box;
  before(async () => {
    box = await startBox();
  });
  after(async () => stopBox(box));

  it('lists every worker’s requests, answers each in its worker, and the approved statements run there once', async () => {
    const clients: { client: pg.Client; id: number; request: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await agent(box);
      const failed = await client.query(`DELETE FROM records WHERE id = ${60 + i}`).then(
        () => assert.fail('ran'),
        (e: unknown) => e as PgError,
      );
      assert.equal(failed.code, 'IGA01');
      clients.push({ client, id: 60 + i, request: /request ([0-9a-f]{12})/.exec(failed.message)?.[1] ?? '' });
    }
    const sessions = (await (await fetch(`${box.base}/sessions`, { headers })).json()) as { sessions: { node: string }[] };
    const all = await listed(box);
    assert.deepEqual(all.map((a) => a.id).sort(), clients.map((c) => c.request).sort());
    assert.deepEqual(
      [...new Set(all.map((a) => a.node))].sort(),
      [...new Set(sessions.sessions.map((s) => s.node))].sort(),
      'each request is listed by the worker that holds it',
    );
    for (const c of clients) assert.equal((await decideIn(box, c.request, 'approve')).status, 200);
    for (const c of clients) assert.equal((await c.client.query(`DELETE FROM records WHERE id = ${c.id}`)).rowCount, 1);
    const used = await decideIn(box, clients[0]?.request ?? '', 'approve');
    assert.equal(used.status, 409, 'a used request cannot be answered again, whichever worker holds it');
    assert.equal(((await used.json()) as { error: string }).error, 'approval-not-pending');
    assert.equal((await decideIn(box, '0123456789ab', 'refuse')).status, 404);
    await Promise.all(clients.map((c) => c.client.end()));
  });

  // An agent's next connection may land on the other worker: the same statement keeps its one
  // request there, and once approved runs once — in whichever worker it is sent again.
  it('pins the login’s settings across workers too: a session that reads dates otherwise asks anew, and its statement does not run', async () => {
    const token = await box.h.token({ groups: [], roles: [ROLE] });
    const dayFirst = await agent(box, token, '-c DateStyle=ISO,DMY');
    const plain = await agent(box, token);
    const sessions = (await (await fetch(`${box.base}/sessions`, { headers })).json()) as { sessions: { node: string }[] };
    assert.equal(new Set(sessions.sessions.map((s) => s.node)).size, 2, 'the two sessions are in different workers');
    const sql = 'DELETE FROM records WHERE id = 71';
    const asked = await refusal(dayFirst, sql);
    assert.equal(asked.code, 'IGA01');
    assert.equal((await decideIn(box, asked.request, 'approve')).status, 200);
    const other = await refusal(plain, sql);
    assert.equal(other.code, 'IGA01');
    assert.notEqual(other.request, asked.request, 'not the day-first session’s request, nor its approval');
    assert.equal(await rowExists(box, 71), true);
    assert.equal((await dayFirst.query(sql)).rowCount, 1, 'the approval stands for the session it pins');
    await Promise.all([dayFirst.end(), plain.end()]);
  });

  it('answers the other worker with the same request, runs the approved statement there once, and asks afresh after', async () => {
    const [asker, other] = await oneAgentPerWorker(box);
    const sql = 'DELETE FROM records WHERE id = 70';
    const first = await refusal(asker, sql);
    assert.equal(first.code, 'IGA01');
    const again = await refusal(other, sql);
    assert.deepEqual(again, first, 'the other worker names the request the first one holds: no second request');
    assert.deepEqual(
      (await listed(box)).filter((a) => a.sql === sql).map((a) => a.id),
      [first.request],
    );
    assert.equal((await decideIn(box, first.request, 'approve')).status, 200);
    assert.equal(await rowExists(box, 70), true, 'approving runs nothing');
    assert.equal((await other.query(sql)).rowCount, 1, 'the approval, taken from the worker that holds it, runs the statement');
    assert.equal(await rowExists(box, 70), false);
    const afterwards = await refusal(asker, sql);
    assert.equal(afterwards.code, 'IGA01');
    assert.notEqual(afterwards.request, first.request, 'used in the other worker: not again in this one — a new request');
    const shown = (await listed(box)).filter((a) => a.sql === sql);
    assert.deepEqual(
      shown.map((a) => [a.id, a.state]).sort(),
      [
        [first.request, 'used'],
        [afterwards.request, 'pending'],
      ].sort(),
      'the approval is listed once, by the worker that used it',
    );
    await Promise.all([asker.end(), other.end()]);
  });
});

/** `approvals.wait` across workers: a session held for a request the other worker holds hears its answer. */
describe('a statement held for approval in one worker, its request in the other', () => {
  let box: Box;
  before(async () => {
    box = await startBox({ wait: '30s', heartbeat: 0 });
  });
  after(async () => stopBox(box));

  it('runs once the request the other worker holds is approved — not in the session that asked and was ended meanwhile', async () => {
    const [asker, other] = await oneAgentPerWorker(box);
    const sql = 'DELETE FROM records WHERE id = 71';
    // The asker's statement is held for its request; then its session is ended by a DBA while it waits.
    const askerResult = asker.query(sql).then(
      () => 'ran',
      (e: unknown) => (e as PgError).code ?? 'error',
    );
    let request: { id: string; sessionId: string } | undefined;
    for (let i = 0; i < 100 && request === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      request = (await listed(box)).find((a) => a.sql === sql);
    }
    assert.ok(request !== undefined, 'the request was made');
    const ended = await fetch(`${box.base}/sessions/${request.sessionId}/terminate`, { method: 'POST', headers, body: JSON.stringify({}) });
    assert.equal(ended.status, 200);
    assert.equal(await askerResult, '57P01', 'the asking session ended while it waited');
    const started = Date.now();
    const held = other.query(sql);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      (await listed(box)).filter((a) => a.sql === sql).map((a) => a.id),
      [request.id],
      'the other worker holds its statement for the same request, not a new one',
    );
    assert.equal((await decideIn(box, request.id, 'approve')).status, 200);
    assert.equal((await held).rowCount, 1, 'told of the answer by the worker that holds the request, it takes the approval and runs');
    assert.ok(Date.now() - started < 15_000, 'when approved, not when its wait ran out');
    assert.equal(await rowExists(box, 71), false);
    await other.end();
    await asker.end().catch(() => undefined);
  });
});
