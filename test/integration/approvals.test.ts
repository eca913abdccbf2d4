import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { selfSignedCertificate } from '../../src/dev/self-signed.js';
import { settleAudit, showJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

const ADMIN_TOKEN = 'approvals-admin-token-0123456789';
const APPROVED_WRITER = 'Records.ApprovedWriter';
const DELETES_APPROVED = 'Records.DeletesApproved';
type PgError = Error & { code?: string };

/** The request id an IGA01 names. */
function requestId(e: PgError): string {
  assert.equal(e.code, 'IGA01', e.message);
  const id = /request ([0-9a-f]{12})/.exec(e.message)?.[1];
  assert.ok(id !== undefined, e.message);
  return id;
}

/**
 * Under `read write:records approve:write:records` a write waits for a person: refused with IGA01
 * and a request id, never forwarded; a DBA approves it through the admin endpoint; the agent's
 * identical statement then runs once. Pinned: another statement, the same one again, or the same
 * one after the approval expired each need their own.
 */
describe('writes that wait for an approver', () => {
  let h: Harness;
  let cli: (args: string[]) => ReturnType<typeof idgate>;
  let agent: pg.Client;
  let hook: WebhookReceiver;
  const rejected = (sql: string): Promise<PgError> =>
    agent.query(sql).then(
      () => assert.fail(`${sql} ran`),
      (e: unknown) => e as PgError,
    );
  const rowExists = async (id: number): Promise<boolean> =>
    (await h.cluster.sql(`SELECT count(*) FROM records WHERE id = ${id}`, 'records')).trim() === '1';

  before(async () => {
    hook = await startWebhookReceiver();
    h = await Harness.start({
      admin: { host: '127.0.0.1', port: 0, 'token-env': 'IDGATE_ADMIN_TOKEN' },
      env: { IDGATE_ADMIN_TOKEN: ADMIN_TOKEN, HOOK_TOKEN: 'hook-token-for-the-bridge' },
      approvals: { 'approval-expiry': '1s', webhook: { url: hook.url, ca: hook.caFile, 'token-env': 'HOOK_TOKEN' } },
      identityMap: [
        {
          name: 'approved-writers',
          'entra-app-role': APPROVED_WRITER,
          connection: CONNECTION,
          scope: 'read write:records approve:write:records',
        },
        { 'entra-app-role': DELETES_APPROVED, connection: CONNECTION, scope: 'read write:records approve:delete' },
      ],
    });
    const { file, env } = h.writeConfigFile((d) => {
      d['admin'] = { ...(d['admin'] as Record<string, unknown>), port: h.gateway.admin?.port ?? 0 };
    });
    cli = (args) => idgate([...args, '--config', file], env);
    agent = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [APPROVED_WRITER] })));
    agent.on('error', () => undefined);
    await agent.connect();
  });
  after(async () => {
    await agent.end().catch(() => undefined);
    await h.stop();
    await hook.stop();
  });

  it('holds a DELETE until a DBA approves it, then runs exactly it once; the agent cannot approve', async () => {
    const id = requestId(await rejected('DELETE FROM records WHERE id = 7'));
    assert.ok(await rowExists(7), 'the statement never reached the database');
    assert.equal((await agent.query('SELECT count(*)::int AS n FROM records WHERE id = 7')).rows[0].n, 1, 'reads need no approval');

    const listed = await cli(['approvals', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const waiting = listed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = waiting.find((a) => a['id'] === id);
    assert.equal(mine?.['state'], 'pending');
    assert.equal(mine?.['sql'], 'DELETE FROM records WHERE id = 7');
    assert.equal(mine?.['entry'], 'approved-writers');

    // The agent's own Entra token does not open the admin endpoint: it cannot approve its own request.
    const self = await fetch(`http://127.0.0.1:${h.gateway.admin?.port ?? 0}/approvals/${id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await h.token({ groups: [], roles: [APPROVED_WRITER] })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'I approve myself' }),
    });
    assert.equal(self.status, 401);
    const noReason = await cli(['approve', id, '--reason', ' ']);
    assert.equal(noReason.code, 1, 'a decision needs a reason');

    // The team's webhook heard of it (its first try answered 503: retried), with the statement and the token.
    const told = await hook.posted(id);
    assert.equal(told.attempts, 2);
    assert.equal(told.authorization, 'Bearer hook-token-for-the-bridge');
    assert.equal(told.body['type'], 'approval-requested');
    assert.equal(told.body['sql'], 'DELETE FROM records WHERE id = 7');
    assert.equal(told.body['state'], 'pending');

    const approved = await cli(['approve', id, '--reason', 'ticket OPS-42', '--by', 'dba-alice']);
    assert.equal(approved.code, 0, approved.stderr);
    const ran = await agent.query('DELETE FROM records WHERE id = 7');
    assert.equal(ran.rowCount, 1);
    assert.equal(await rowExists(7), false);

    const again = requestId(await rejected('DELETE FROM records WHERE id = 7'));
    assert.notEqual(again, id, 'used once: the same statement again is a new request');
    const other = requestId(await rejected('DELETE FROM records WHERE id = 8'));
    assert.notEqual(other, again);
    assert.equal((await cli(['approve', id, '--reason', 'twice'])).code, 1, 'a used approval cannot be answered again');
  });

  it('under write:records approve:delete holds a DELETE and lets an UPDATE and an INSERT through', async () => {
    const writer = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [DELETES_APPROVED] })));
    await writer.connect();
    assert.equal((await writer.query("UPDATE records SET title = 'kept' WHERE id = 40")).rowCount, 1);
    assert.equal((await writer.query("INSERT INTO records (title) VALUES ('new')")).rowCount, 1);
    const held = await writer.query('DELETE FROM records WHERE id = 40').then(
      () => assert.fail('ran'),
      (e: unknown) => e as PgError,
    );
    assert.match(held.message, /deleting from public\.records needs approval: request [0-9a-f]{12}/);
    assert.ok(await rowExists(40));
    await writer.end();
  });

  it('lets an approval expire, tells a refused agent why, and keeps transactions as a denial does', async () => {
    const metric = async (line: RegExp): Promise<number> => Number(line.exec(await h.gateway.services.metrics.text())?.[1] ?? 0);
    const expiries = /^idgate_approvals_total\{event="expired"[^}]*\} (\d+)/m;
    const decisions = /^idgate_approval_wait_seconds_count\{[^}]*\} (\d+)/m;
    const [expiredBefore, decidedBefore] = [await metric(expiries), await metric(decisions)];
    const id = requestId(await rejected('DELETE FROM records WHERE id = 20'));
    assert.equal((await cli(['approve', id, '--reason', 'ok for now'])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    const expired = requestId(await rejected('DELETE FROM records WHERE id = 20'));
    assert.notEqual(expired, id, 'an expired approval admits nothing');
    assert.ok(await rowExists(20));
    assert.equal(await metric(expiries), expiredBefore + 1, 'the unused approval counted as expired');
    assert.equal(await metric(decisions), decidedBefore + 1, 'its wait for a decision observed');

    assert.equal((await cli(['refuse', expired, '--reason', 'not during the freeze', '--by', 'dba-bob'])).code, 0);
    const refused = await rejected('DELETE FROM records WHERE id = 20');
    assert.equal(refused.code, 'IGA01');
    assert.match(refused.message, /was refused by dba-bob \(not during the freeze\)/);

    await agent.query('BEGIN');
    assert.equal((await rejected('UPDATE records SET title = $$x$$ WHERE id = 21')).code, 'IGA01');
    assert.equal((await rejected('SELECT 1')).code, '25P02', 'the transaction is aborted, as after a denial');
    await agent.query('ROLLBACK');
  });

  it('approves a prepared statement at its Bind, pinned to its values; EXECUTE of it by name is refused', async () => {
    const bound = (id: number, name?: string): Promise<PgError> =>
      agent.query({ text: 'DELETE FROM records WHERE id = $1', values: [id], ...(name !== undefined ? { name } : {}) }).then(
        () => assert.fail('ran'),
        (e: unknown) => e as PgError,
      );
    const id = requestId(await bound(21));
    const listed = await cli(['approvals', id, '--json']);
    const request = JSON.parse(listed.stdout) as Record<string, unknown>;
    assert.deepEqual([request['sql'], request['params']], ['DELETE FROM records WHERE id = $1', '["21"]']);
    const shown = await cli(['approvals', id]);
    assert.match(
      shown.stdout,
      /^statement:\nDELETE FROM records WHERE id = \$1\nvalues \(\$1, \$2, …\):\n\["21"\]$/m,
      'the approver sees the values',
    );
    assert.match((await cli(['approvals'])).stdout, /DELETE FROM records WHERE id = \$1 {2}values \["21"\]/);
    assert.ok(await rowExists(21));
    assert.equal((await cli(['approve', id, '--reason', 'bound ok'])).code, 0);
    assert.equal((await agent.query('DELETE FROM records WHERE id = $1', [21])).rowCount, 1, 'the same text with the same value runs');
    assert.notEqual(requestId(await bound(21)), id, 'once');
    requestId(await bound(22));
    assert.ok(await rowExists(22), 'another value is another request');
    // The unnamed statement, replaced by a plain one the server parsed, is no longer held at its Binds.
    assert.equal((await agent.query('SELECT $1::int AS n', [5])).rows[0].n, 5);

    // A named prepared statement: prepared upstream, held at each Bind — and never run by SQL's EXECUTE.
    requestId(await bound(23, 'del'));
    const executed = await rejected('EXECUTE del(23)');
    assert.equal(executed.code, '0A000');
    assert.match(executed.message, /EXECUTE del: that prepared statement needs approval at each Bind/);
    assert.equal((await rejected('EXPLAIN ANALYZE EXECUTE del(23)')).code, '0A000');
    assert.ok(await rowExists(23));
    const prepare = await rejected('PREPARE sneaky AS DELETE FROM records WHERE id = 24');
    assert.equal(prepare.code, '0A000', 'a PREPARE of such a write cannot be approved');
    assert.match(prepare.message, /cannot be given to PREPARE/);
  });

  it('records the chain request → decision → execution in the audit log, which verifies', async () => {
    const writer = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [APPROVED_WRITER] })));
    await writer.connect();
    const sessionId = String((await writer.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
    const asked = await writer.query('DELETE FROM records WHERE id = 30').then(
      () => assert.fail('ran'),
      (e: unknown) => e as PgError,
    );
    const id = requestId(asked);
    assert.equal((await cli(['approve', id, '--reason', 'cleanup approved', '--by', 'dba-carol'])).code, 0);
    assert.equal((await writer.query('DELETE FROM records WHERE id = 30')).rowCount, 1);
    await writer.end();
    await agent.end();
    await settleAudit(h);
    const events = JSON.stringify(await showJson(h, sessionId));
    // In order: the request, the refused statement, the decision with who and how, the statement that ran.
    const expected = [
      `"kind":"ApprovalRequested","detail":"request ${id}: deleting from public.records needs approval"`,
      '"sqlstate":"IGA01"',
      `"kind":"ApprovalDecided","detail":"request ${id} approved by dba-carol (bearer-token, from `,
      '): cleanup approved"',
      `"kind":"ApprovalUsed","detail":"request ${id} approved by dba-carol (bearer-token, from `,
      ': cleanup approved; the statement below runs"',
      '"sql":"DELETE FROM records WHERE id = 30","outcome":{"status":"ok","results":[{"tag":"DELETE 1"',
    ];
    let at = 0;
    for (const part of expected) {
      const found = events.indexOf(part, at);
      assert.ok(found >= 0, `${part} after position ${at} in ${events}`);
      at = found + part.length;
    }
    const verified = await idgate(['verify', '--db', h.config.recordingsPath]);
    assert.equal(verified.code, 0, verified.stdout);
    // The decision is evidence like every event: rewriting who approved breaks the chain.
    const db = new Database(h.config.recordingsPath);
    const changed = db
      .prepare("UPDATE event_segments SET lines = replace(lines, 'dba-carol', 'dba-eve99') WHERE session_id = ?")
      .run(sessionId);
    db.close();
    assert.ok(changed.changes >= 1, 'the decision is stored in the session');
    const forged = await idgate(['verify', '--db', h.config.recordingsPath]);
    assert.equal(forged.code, 1, forged.stdout);
    assert.match(forged.stdout, /TAMPERED/);
    const shown = await cli(['approvals', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^decision {4}approved by dba-carol \(bearer-token, from [^)]+\) at \S+: cleanup approved$/m);
    assert.match(shown.stdout, /^statement:\nDELETE FROM records WHERE id = 30$/m);
  });
});

interface WebhookReceiver {
  readonly url: string;
  readonly caFile: string;
  /** Resolves once a request's notification came through (after the 503 its first try gets). */
  posted(id: string): Promise<{ attempts: number; authorization: string; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** A team's HTTPS endpoint, as a chat bridge would run it: the first try of each notification answers 503. */
async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const { cert, key } = await selfSignedCertificate('127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'idgate-hook-'));
  const caFile = join(dir, 'hook-ca.pem');
  writeFileSync(caFile, cert);
  const seen = new Map<string, { attempts: number; authorization: string; body: Record<string, unknown> }>();
  const server = createHttpsServer({ cert, key }, (req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      const id = String(body['id']);
      const attempts = (seen.get(id)?.attempts ?? 0) + 1;
      seen.set(id, { attempts, authorization: req.headers.authorization ?? '', body });
      res.writeHead(attempts === 1 ? 503 : 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/hook`,
    caFile,
    posted: async (id) => {
      for (let i = 0; i < 100; i++) {
        const got = seen.get(id);
        if (got !== undefined && got.attempts >= 2) return got;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no webhook delivery for ${id}: ${JSON.stringify([...seen.keys()])}`);
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
