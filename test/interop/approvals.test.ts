import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { javaArgs } from '../support/java-program.js';
import { repoPath } from '../support/repo-root.js';

const run = promisify(execFile);
const ADMIN_TOKEN = 'interop-approvals-admin-token-42';
const ROLE = 'Records.ApprovedWriter';

/** A gateway with its admin endpoint and an entry whose writes to records wait for an approver. */
async function startWithApprovals(approvals: Record<string, unknown>): Promise<{ h: Harness; admin: string }> {
  const h = await Harness.start({
    admin: { host: '127.0.0.1', port: 0, 'token-env': 'IDGATE_ADMIN_TOKEN' },
    env: { IDGATE_ADMIN_TOKEN: ADMIN_TOKEN },
    approvals,
    identityMap: [{ 'entra-app-role': ROLE, connection: CONNECTION, scope: 'read write:records approve:write:records' }],
  });
  return { h, admin: `http://127.0.0.1:${h.gateway.admin?.port ?? 0}` };
}

/** psql, psycopg2, psycopg 3 and pgJDBC meet a write that waits for an approver. */
describe('approvals with real clients', () => {
  let h: Harness;
  let admin: string;
  before(async () => {
    ({ h, admin } = await startWithApprovals({}));
  });
  after(async () => {
    await h.stop();
  });

  const approve = async (id: string): Promise<number> =>
    (
      await fetch(`${admin}/approvals/${id}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ by: 'psql-test', reason: 'interop' }),
      })
    ).status;

  /** psql as one agent: the same identity each run (an approval is pinned to the identity that asked). */
  let agentToken = '';
  async function psql(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
    agentToken ||= await h.token({ groups: [], roles: [ROLE] });
    try {
      const { stdout, stderr } = await run('psql', ['-X', '-v', 'VERBOSITY=verbose', h.conninfo(), ...args], {
        env: { ...process.env, PGPASSWORD: agentToken },
      });
      return { stdout, stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; code: number };
      return err;
    }
  }

  it('psql: IGA01 with the request id, the transaction aborted; once approved the same statement runs', async () => {
    const held = await psql([
      '-v',
      'ON_ERROR_STOP=0',
      '-c',
      'BEGIN',
      '-c',
      'DELETE FROM records WHERE id = 40',
      '-c',
      'SELECT 1',
      '-c',
      'ROLLBACK',
    ]);
    assert.match(held.stderr, /ERROR: {2}IGA01: deleting from public\.records needs approval: request ([0-9a-f]{12})/);
    assert.match(held.stderr, /ERROR: {2}25P02: current transaction is aborted/);
    const id = /request ([0-9a-f]{12})/.exec(held.stderr)?.[1] ?? '';
    assert.equal(await approve(id), 200);
    const ran = await psql(['-c', 'DELETE FROM records WHERE id = 40']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 'DELETE 1');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 40', 'records')).trim(), '0');
  });

  /** Runs a client that prints `ASKED <sqlstate> … request <id> …`, waits for a line, then `RAN …` and `AGAIN …`. */
  async function approvedBetween(command: string, args: string[]): Promise<Record<string, string>> {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines: Record<string, string> = {};
    let pending = '';
    const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.stdout.on('data', (c: Buffer) => {
      pending += c.toString();
      for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
        const line = pending.slice(0, at);
        pending = pending.slice(at + 1);
        const [step = '', ...rest] = line.split(' ');
        lines[step] = rest.join(' ');
        if (step === 'ASKED') {
          const id = /request ([0-9a-f]{12})/.exec(line)?.[1] ?? '';
          void approve(id).then(() => child.stdin.write('go\n'));
        }
      }
    });
    await done;
    assert.ok(lines['SESSION'] !== undefined, `${JSON.stringify(lines)} ${stderr}`);
    return lines;
  }

  it('pgJDBC and psycopg 3 (values bound by the server): IGA01 at the Bind, then the approved values run once', async () => {
    const token = await h.token({ groups: [], roles: [ROLE] });
    const jdbc = await approvedBetween(
      'java',
      await javaArgs(repoPath('test/interop/JdbcApprovals.java'), ['127.0.0.1', String(h.port), CONNECTION, 'jdbc-agent', token, '70']),
    );
    assert.match(jdbc['ASKED'] ?? '', /^IGA01 .*deleting from public\.records needs approval: request [0-9a-f]{12}/);
    assert.equal(jdbc['RAN'], 'rows 1');
    assert.match(jdbc['AGAIN'] ?? '', /^IGA01 /);
    const psycopg = await approvedBetween('/usr/bin/python3', [repoPath('test/interop/psycopg3_approvals.py'), h.conninfo(), token, '71']);
    assert.match(psycopg['ASKED'] ?? '', /^IGA01 deleting from public\.records needs approval: request [0-9a-f]{12}/);
    assert.equal(psycopg['RAN'], 'rows 1');
    assert.match(psycopg['AGAIN'] ?? '', /^IGA01 /);
    assert.equal(psycopg['PIPELINE'], 'IGA01 True', 'pipelined: the read before it answered, the held write failed the batch');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id IN (70, 71)', 'records')).trim(), '0');
  });

  it('psycopg2: its parameters are written into the text, so the approval pins them; runs once', async () => {
    // Debian's psycopg2 is importable by the system python, not by a pyenv python earlier on PATH.
    const { stdout } = await run('/usr/bin/python3', [
      repoPath('test/interop/psycopg2_approvals.py'),
      h.conninfo(),
      await h.token({ groups: [], roles: [ROLE] }),
      admin,
      ADMIN_TOKEN,
    ]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(out['first'], 'IGA01');
    assert.equal(out['approved'], 200);
    assert.equal(out['rowcount'], 1);
    assert.equal(out['again'], 'IGA01', 'once');
    await h.assertNoLeaks();
  });
});

/** `approvals.wait`: psql's statement is held open until a person answers, then runs; unanswered, refused when the wait ends. */
describe('approvals with approvals.wait', () => {
  let h: Harness;
  let admin: string;
  before(async () => {
    ({ h, admin } = await startWithApprovals({ wait: '3s', heartbeat: '1s' }));
  });
  after(async () => {
    await h.stop();
  });

  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  async function pendingId(sql: string): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const listed = (await (await fetch(`${admin}/approvals`, { headers })).json()) as {
        approvals: { id: string; sql: string; state: string }[];
      };
      const found = listed.approvals.find((a) => a.sql === sql && a.state === 'pending');
      if (found !== undefined) return found.id;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no pending request for ${sql}`);
  }
  const psql = async (sql: string): Promise<{ stdout: string; stderr: string; code: number }> =>
    run('psql', ['-X', '-v', 'VERBOSITY=verbose', h.conninfo(), '-c', sql], {
      env: { ...process.env, PGPASSWORD: await h.token({ groups: [], roles: [ROLE] }) },
    }).then(
      ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
      (e: unknown) => e as { stdout: string; stderr: string; code: number },
    );

  it('returns DELETE 1 to a waiting psql once a person approves', async () => {
    const sql = 'DELETE FROM records WHERE id = 50';
    const started = Date.now();
    const waiting = psql(sql);
    const id = await pendingId(sql);
    const approved = await fetch(`${admin}/approvals/${id}/approve`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 'dba', reason: 'go' }),
    });
    assert.equal(approved.status, 200);
    const ran = await waiting;
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 'DELETE 1');
    assert.ok(Date.now() - started < 3000, 'ran on the approval, not at the end of the wait');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 50', 'records')).trim(), '0');
  });

  it('holds a prepared statement’s Bind too: node-postgres with parameters gets its result once a person approves', async () => {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [ROLE] })));
    client.on('error', () => undefined);
    await client.connect();
    const sql = 'DELETE FROM records WHERE id = $1';
    const waiting = client.query(sql, [54]);
    let id: string | undefined;
    for (let i = 0; i < 100 && id === undefined; i++) {
      const listed = (await (await fetch(`${admin}/approvals`, { headers })).json()) as {
        approvals: { id: string; sql: string; params: string | null; state: string }[];
      };
      id = listed.approvals.find((a) => a.sql === sql && a.params === '["54"]' && a.state === 'pending')?.id;
      if (id === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(id !== undefined, 'the request names the statement and its value');
    const approved = await fetch(`${admin}/approvals/${id}/approve`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 'dba', reason: 'go' }),
    });
    assert.equal(approved.status, 200);
    assert.equal((await waiting).rowCount, 1, 'the held Bind went on once approved');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 54', 'records')).trim(), '0');
    assert.equal((await client.query('SELECT 1 AS one')).rows[0]?.one, 1, 'the session goes on');
    await client.end();
  });

  it('holds psycopg 3’s Bind as well (its values bound by the server), and runs it once approved', async () => {
    const script = [
      'import sys, psycopg',
      'with psycopg.connect(sys.argv[1], password=sys.argv[2], autocommit=True) as c:',
      "    print('rows', c.execute('DELETE FROM records WHERE id = %s', (55,)).rowcount)",
    ].join('\n');
    const waiting = run('/usr/bin/python3', ['-c', script, h.conninfo(), await h.token({ groups: [], roles: [ROLE] })]);
    const id = await pendingId('DELETE FROM records WHERE id = $1');
    const approved = await fetch(`${admin}/approvals/${id}/approve`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 'dba', reason: 'go' }),
    });
    assert.equal(approved.status, 200);
    assert.equal((await waiting).stdout.trim(), 'rows 1');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 55', 'records')).trim(), '0');
  });

  it('holds pgJDBC’s Bind as well (a PreparedStatement), and runs it once approved', async () => {
    const token = await h.token({ groups: [], roles: [ROLE] });
    const program = repoPath('test/interop/JdbcApprovalWait.java');
    const waiting = run('java', await javaArgs(program, ['127.0.0.1', String(h.port), CONNECTION, 'jdbc-agent', token, '56']));
    const id = await pendingId('DELETE FROM records WHERE id = $1');
    const approved = await fetch(`${admin}/approvals/${id}/approve`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 'dba', reason: 'go' }),
    });
    assert.equal(approved.status, 200);
    assert.equal((await waiting).stdout.trim(), 'rows 1');
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 56', 'records')).trim(), '0');
  });

  it('stops waiting when psql is interrupted (Ctrl-C): 57014 at once, nothing ran, the request kept for the next time', async () => {
    const sql = 'DELETE FROM records WHERE id = 53';
    // One agent: the same identity sends the statement again once it is approved.
    const env = { ...process.env, PGPASSWORD: await h.token({ groups: [], roles: [ROLE] }) };
    const child = spawn('psql', ['-X', '-v', 'VERBOSITY=verbose', h.conninfo(), '-c', sql], { env });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const id = await pendingId(sql);
    const interrupted = Date.now();
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.ok(Date.now() - interrupted < 2000, 'at once, not at the end of the wait');
    assert.match(
      stderr,
      new RegExp(
        `57014: canceling statement due to user request: deleting from public\\.records needs approval, and request ${id} is kept`,
      ),
    );
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 53', 'records')).trim(), '1', 'nothing ran');
    assert.equal(await pendingId(sql), id, 'the request still waits for a person');
    const approved = await fetch(`${admin}/approvals/${id}/approve`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ by: 'dba', reason: 'go' }),
    });
    assert.equal(approved.status, 200, await approved.text());
    const { stdout } = await run('psql', ['-X', h.conninfo(), '-c', sql], { env });
    assert.equal(stdout.trim(), 'DELETE 1');
  });

  it('refuses with the request id when nobody answers within the wait, and at once when a person refuses', async () => {
    const sql = 'DELETE FROM records WHERE id = 51';
    const started = Date.now();
    const unanswered = await psql(sql);
    assert.equal(unanswered.code, 1);
    assert.match(unanswered.stderr, /IGA01: deleting from public\.records needs approval: request [0-9a-f]{12}/);
    assert.ok(Date.now() - started >= 2900, `held for the wait (${Date.now() - started} ms)`);
    // The heartbeats psql printed while it waited: one a second, naming the request.
    const beats =
      unanswered.stderr.match(/NOTICE: {2}00000: waiting for approval: request [0-9a-f]{12}, \d s so far \(the wait ends after 3 s\)/g) ??
      [];
    assert.ok(beats.length >= 2, unanswered.stderr);

    const refusedSql = 'DELETE FROM records WHERE id = 52';
    const waiting = psql(refusedSql);
    const id = await pendingId(refusedSql);
    await fetch(`${admin}/approvals/${id}/refuse`, { method: 'POST', headers, body: JSON.stringify({ by: 'dba-bob', reason: 'no' }) });
    const refused = await waiting;
    assert.match(refused.stderr, /IGA01: deleting from public\.records needs approval: request [0-9a-f]{12} was refused by dba-bob \(no\)/);
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id IN (51, 52)', 'records')).trim(), '2');
    await h.assertNoLeaks();
  });
});

/** `approvals.preview`: the approver sees how many rows the statement would change, from a dry run that changes nothing. */
describe('approvals with a dry-run preview', () => {
  let h: Harness;
  let admin: string;
  before(async () => {
    ({ h, admin } = await startWithApprovals({ preview: true }));
  });
  after(async () => {
    await h.stop();
  });

  async function previewOf(sql: string): Promise<Record<string, unknown>> {
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    for (let i = 0; i < 100; i++) {
      const listed = (await (await fetch(`${admin}/approvals`, { headers })).json()) as {
        approvals: { sql: string; preview: Record<string, unknown> | null }[];
      };
      const preview = listed.approvals.find((a) => a.sql === sql)?.preview;
      if (preview !== undefined && preview !== null) return preview;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no preview for ${sql}`);
  }

  it('counts the rows a DELETE would remove, removes none, and says why a text of two statements is not run', async () => {
    const token = await h.token({ groups: [], roles: [ROLE] });
    const psql = (sql: string): Promise<unknown> =>
      run('psql', ['-X', h.conninfo(), '-c', sql], { env: { ...process.env, PGPASSWORD: token } }).catch(() => undefined);
    const wide = 'DELETE FROM records WHERE id > 90';
    await psql(wide);
    assert.deepEqual(await previewOf(wide), { rows: 10 });
    assert.equal(
      (await h.cluster.sql('SELECT count(*) FROM records WHERE id > 90', 'records')).trim(),
      '10',
      'the dry run was rolled back',
    );
    const two = 'DELETE FROM records WHERE id = 89; DELETE FROM records WHERE id = 88';
    await psql(two);
    assert.deepEqual(await previewOf(two), { problem: 'only a lone INSERT, UPDATE, DELETE or MERGE is dry-run' });
    assert.equal((await h.cluster.sql('SELECT count(*) FROM records WHERE id IN (88, 89)', 'records')).trim(), '2');
  });

  it('dry-runs a prepared statement with the values of its Bind (node-postgres, extended protocol)', async () => {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [ROLE] })));
    await client.connect();
    const sql = 'DELETE FROM records WHERE id > $1 AND title <> $2';
    await client.query(sql, [80, 'none such']).catch(() => undefined);
    await client.end();
    const expected = Number(await h.cluster.sql('SELECT count(*) FROM records WHERE id > 80', 'records'));
    assert.ok(expected > 0);
    assert.deepEqual(await previewOf(sql), { rows: expected });
    assert.equal(Number(await h.cluster.sql('SELECT count(*) FROM records WHERE id > 80', 'records')), expected, 'rolled back');
  });
});
