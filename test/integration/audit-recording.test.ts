import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { auditBytes, sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { repoPath } from '../support/repo-root.js';

const run = promisify(execFile);

describe('the audit log records every statement', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      nodeId: 'gw-test-1',
      identityMap: [
        { 'entra-app-role': 'Audit.None', connection: CONNECTION, scope: 'all', record: false },
        { 'entra-app-role': 'Audit.Full', connection: CONNECTION, scope: 'all', record: 'full' },
      ],
    });
  });
  after(async () => {
    await h.stop();
  });

  /** Runs `work` in a fresh pg session for an agent with its own app id; returns the session's statements. */
  async function recordPg(
    work: (c: pg.Client) => Promise<void>,
    claims: Record<string, unknown> = {},
  ): Promise<{ id: string; lines: Record<string, unknown>[] }> {
    const appId = crypto.randomUUID();
    const client = new pg.Client(pgOptions(h, await h.token({ azp: appId, ...claims })));
    await client.connect();
    await work(client);
    await client.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    assert.ok(session, 'the session is listed');
    return { id: String(session['id']), lines: await showJson(h, String(session['id'])) };
  }

  const statements = (lines: Record<string, unknown>[]): Record<string, unknown>[] => lines.filter((l) => l['type'] === 'statement');

  it('records simple queries, prepared statements with parameters, and outcomes, in order', async () => {
    const { lines } = await recordPg(async (c) => {
      await c.query('SELECT count(*) FROM records');
      await c.query({ name: 'by-id', text: 'SELECT title FROM records WHERE id = $1 AND title <> $2', values: [7, 'x'] });
      await c.query('UPDATE records SET title = $1 WHERE id = $2', ['renamed ✓', 3]);
      await c.query('SELECT * FROM no_such_table').catch(() => undefined);
    });
    const header = lines[0];
    assert.equal(header?.['type'], 'session');
    assert.equal(header?.['connection'], CONNECTION);
    assert.equal(header?.['endReason'], 'client-terminated');
    const s = statements(lines);
    assert.deepEqual(
      s.map((x) => x['sql']),
      [
        'SELECT count(*) FROM records',
        'SELECT title FROM records WHERE id = $1 AND title <> $2',
        'UPDATE records SET title = $1 WHERE id = $2',
        'SELECT * FROM no_such_table',
      ],
    );
    assert.deepEqual(s[0]?.['outcome'], { status: 'ok', results: [{ tag: 'SELECT 1', rows: 1 }] });
    assert.deepEqual(s[1]?.['params'], [{ text: '7' }, { text: 'x' }]);
    assert.equal(s[1]?.['statementName'], 'by-id');
    assert.deepEqual(s[2]?.['params'], [{ text: 'renamed ✓' }, { text: '3' }]);
    assert.deepEqual(s[2]?.['outcome'], { status: 'ok', results: [{ tag: 'UPDATE 1', rows: 1 }] });
    assert.equal((s[3]?.['outcome'] as Record<string, unknown>)['status'], 'error');
    assert.equal((s[3]?.['outcome'] as Record<string, unknown>)['sqlstate'], '42P01');
    for (const x of s) assert.equal(typeof x['durationUs'], 'number');
    assert.ok(s.every((x, i) => i === 0 || Number(x['offsetUs']) >= Number(s[i - 1]?.['offsetUs'])));
  });

  it('lists sessions by identity, connection and time, and exports them', { timeout: 60_000 }, async () => {
    const { id } = await recordPg(async (c) => {
      await c.query('SELECT 1');
    });
    const { idgate } = await import('../support/cli.js');
    // The command's own filters, through the CLI as a DBA types them.
    const ids = async (...filters: string[]): Promise<unknown[]> => {
      const r = await idgate(['sessions', '--json', '--db', h.config.recordingsPath, ...filters]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Record<string, unknown>)['id']);
    };
    assert.ok((await ids('--connection', CONNECTION, '--since', '1h')).includes(id));
    assert.ok(!(await ids('--connection', 'other-db')).includes(id));
    assert.deepEqual(await ids('--until', '2000-01-01T00:00:00Z'), []);
    assert.deepEqual(await ids('--since', '2999-01-01T00:00:00Z'), []);
    const table = await idgate(['sessions', '--db', h.config.recordingsPath]);
    assert.match(
      table.stdout,
      /^id\s+node\s+start\s+duration\s+identity\s+connection\s+statements\s+errors\s+rows sent\s+rows written\s+bytes sent\s+end reason/,
    );
    assert.ok(table.stdout.includes(id));
    // The fleet node is on every session and login attempt, and sessions filter by it.
    assert.ok((await ids('--node', 'gw-test-1')).includes(id));
    assert.deepEqual(await ids('--node', 'gw-other'), []);
    assert.equal((await sessionsJson(h, { node: 'gw-test-1' })).find((r) => r['id'] === id)?.['node'], 'gw-test-1');
    const recent = await idgate(['export', '--since', '10m', '--db', h.config.recordingsPath]);
    assert.ok(recent.stdout.split('\n').some((l) => l.includes(`"id":"${id}"`)));
    const logins = recent.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['type'] === 'login');
    assert.ok(logins.length > 0 && logins.every((l) => l['node'] === 'gw-test-1'));
    assert.ok(
      h.logLines.some((l) => l.includes('"node":"gw-test-1"')),
      'log lines name the node',
    );
    assert.equal((await idgate(['verify', '--db', h.config.recordingsPath])).code, 0, 'the node is covered by the chains and verifies');
    const none = await idgate(['export', '--since', '2999-01-01T00:00:00Z', '--db', h.config.recordingsPath]);
    assert.equal(none.stdout, '');
  });

  it('records errors mid-transaction and multi-statement queries', async () => {
    const { lines } = await recordPg(async (c) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO records (title) VALUES ($1)', ['in tx']);
      await c.query('SELECT 1/0').catch(() => undefined);
      await c.query('ROLLBACK');
      await c.query('SELECT 1; SELECT 2; SELECT 3');
    });
    const s = statements(lines);
    assert.deepEqual(
      s.map((x) => (x['outcome'] as { status: string }).status),
      ['ok', 'ok', 'error', 'ok', 'ok'],
    );
    assert.deepEqual((s[4]?.['outcome'] as { results: unknown[] }).results, [
      { tag: 'SELECT 1', rows: 1 },
      { tag: 'SELECT 1', rows: 1 },
      { tag: 'SELECT 1', rows: 1 },
    ]);
  });

  it('records a postgres.js pipeline with a failing statement in the middle', async () => {
    const appId = crypto.randomUUID();
    const sql = postgres({
      host: '127.0.0.1',
      port: h.port,
      database: CONNECTION,
      username: 'pjs',
      password: await h.token({ azp: appId }),
      ssl: { rejectUnauthorized: false },
      max: 1,
      onnotice: () => undefined,
    });
    await Promise.allSettled([sql`SELECT ${1}::int AS a`, sql`SELECT * FROM missing_table WHERE x = ${2}`, sql`SELECT ${3}::int AS c`]);
    await sql.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const s = statements(await showJson(h, String(session?.['id'])));
    const mine = s.filter((x) => String(x['sql']).includes('$1'));
    assert.deepEqual(
      mine.map((x) => (x['outcome'] as { status: string }).status),
      ['ok', 'error', 'ok'],
    );
    // postgres.js prepares first (Parse, Describe, Sync): the failing statement never got to Bind, so no parameters were sent.
    assert.deepEqual(
      mine.map((x) => x['params']),
      [[{ text: '1' }], undefined, [{ text: '3' }]],
    );
    assert.equal((mine[1]?.['outcome'] as { sqlstate?: string }).sqlstate, '42P01');
  });

  it('records psql with COPY in and out, and psql’s cancel', async () => {
    const appId = crypto.randomUUID();
    const env = { ...process.env, PGPASSWORD: await h.token({ azp: appId }) };
    await run(
      'psql',
      [
        '-X',
        '-q',
        h.conninfo(),
        '-c',
        'CREATE TEMP TABLE t (n int)',
        '-c',
        "\\copy t FROM program 'seq 1 50'",
        '-c',
        '\\copy t TO /dev/null',
      ],
      { env },
    );
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const s = statements(await showJson(h, String(session?.['id'])));
    const copyIn = s.find((x) => /COPY\s+t\s+FROM STDIN/i.test(String(x['sql'])));
    assert.ok(copyIn, JSON.stringify(s));
    assert.equal(copyIn['copyBytes'], Array.from({ length: 50 }, (_, i) => `${i + 1}\n`).join('').length);
    assert.deepEqual((copyIn['outcome'] as { results: unknown[] }).results, [{ tag: 'COPY 50', rows: 50 }]);
    const copyOut = s.find((x) => /TO STDOUT/i.test(String(x['sql'])));
    assert.deepEqual((copyOut?.['outcome'] as { results: unknown[] }).results, [{ tag: 'COPY 50', rows: 50 }]);
  });

  it('records psycopg2: client-side parameters, an error, COPY', async () => {
    const appId = crypto.randomUUID();
    const script = repoPath('test/interop/psycopg2_recorded.py');
    await run('/usr/bin/python3', [script, h.conninfo(), await h.token({ azp: appId })]);
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const s = statements(await showJson(h, String(session?.['id'])));
    const sqls = s.map((x) => String(x['sql']));
    assert.ok(sqls.includes('SELECT title FROM records WHERE id = 11'), JSON.stringify(sqls));
    const failed = s.find((x) => String(x['sql']).includes('psycopg_missing'));
    assert.equal((failed?.['outcome'] as { sqlstate?: string }).sqlstate, '42P01');
    const copy = s.find((x) => String(x['sql']).startsWith('COPY py_rec'));
    assert.equal(copy?.['copyBytes'], 6);
    assert.deepEqual((copy?.['outcome'] as { results: unknown[] }).results, [{ tag: 'COPY 3', rows: 3 }]);
  });

  it('records binary Bind parameters as base64 with the type from their Parse', async () => {
    const { RawClient } = await import('../support/raw-client.js');
    const { Bytes } = await import('../support/byte-builder.js');
    const appId = crypto.randomUUID();
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token({ azp: appId }), { user: 'raw', database: CONNECTION });
    const int4 = Buffer.alloc(4);
    int4.writeInt32BE(42);
    c.write(
      Buffer.concat([
        new Bytes().cstring('typed').cstring('SELECT $1::int4 + 1').int16(1).int32(23).frame('P'),
        new Bytes().cstring('').cstring('typed').int16(1).int16(1).int16(1).int32(4).raw(int4).int16(0).frame('B'),
        new Bytes().cstring('').int32(0).frame('E'),
        new Bytes().frame('S'),
      ]),
    );
    await c.untilReady();
    c.write(new Bytes().frame('X'));
    await c.waitClosed();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const [statement] = statements(await showJson(h, String(session?.['id'])));
    assert.equal(statement?.['statementName'], 'typed');
    assert.deepEqual(statement?.['params'], [{ binary: int4.toString('base64'), type: 23 }]);
    assert.deepEqual((statement?.['outcome'] as { results: unknown[] }).results, [{ tag: 'SELECT 1', rows: 1 }]);
  });

  it('records a CancelRequest in the session it cancelled, without its keys', async () => {
    const { lines } = await recordPg(async (c) => {
      const key = c as unknown as { processID: number; secretKey: number };
      const running = c.query('SELECT pg_sleep(10)').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      const { RawClient } = await import('../support/raw-client.js');
      const { Bytes } = await import('../support/byte-builder.js');
      const raw = await RawClient.connect(h.port);
      raw.write(new Bytes().int32(80877102).int32(key.processID).int32(key.secretKey).untyped());
      await raw.waitClosed();
      await running;
      const text = auditBytes(h.config.recordingsPath).toString('latin1');
      assert.ok(!text.includes(String(key.secretKey)), 'no cancel key in the audit file');
    });
    assert.ok(lines.some((l) => l['type'] === 'note' && l['kind'] === 'CancelRequest'));
    const sleep = statements(lines).find((x) => String(x['sql']).includes('pg_sleep'));
    assert.equal((sleep?.['outcome'] as { sqlstate?: string }).sqlstate, '57014');
  });

  it('keeps only the session row for record: false, and result rows for record: full', async () => {
    const none = await recordPg(
      async (c) => {
        await c.query('SELECT 42');
      },
      { groups: [], roles: ['Audit.None'] },
    );
    assert.equal(statements(none.lines).length, 0);
    assert.equal(none.lines[0]?.['record'], 'false');
    const full = await recordPg(
      async (c) => {
        await c.query("SELECT 'row-content-visible' AS v");
      },
      {
        groups: [],
        roles: ['Audit.Full'],
      },
    );
    assert.equal(statements(full.lines).length, 1);
    const { idgate } = await import('../support/cli.js');
    const exported = await idgate(['export', '--db', h.config.recordingsPath]);
    const rows = exported.stdout.split('\n').filter((l) => l.includes(full.id) && l.includes('"DataRow"'));
    assert.equal(rows.length, 1);
    assert.match(rows[0] ?? '', /"values":\["row-content-visible"\]/);
  });

  it('records refused login attempts with their reason, and never a token', async () => {
    const token = await h.token({}, { expiresIn: -60 });
    const client = new pg.Client(pgOptions(h, token));
    client.on('error', () => undefined);
    await client.connect().catch(() => undefined);
    const good = await h.token();
    const ok = new pg.Client(pgOptions(h, good));
    await ok.connect();
    await ok.query('SELECT 1');
    await ok.end();
    await settleAudit(h);
    const { idgate } = await import('../support/cli.js');
    const exported = await idgate(['export', '--db', h.config.recordingsPath]);
    const logins = exported.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['type'] === 'login');
    assert.ok(logins.some((l) => l['accepted'] === false && l['reason'] === 'token-expired'));
    assert.ok(logins.some((l) => l['accepted'] === true));
    // Raw bytes of the file (frames are stored base64) and everything the log decodes to.
    const file = auditBytes(h.config.recordingsPath).toString('latin1') + exported.stdout;
    for (const t of [token, good]) {
      assert.ok(!file.includes(t.split('.')[2] ?? 'x'), 'a token signature is in the audit file');
      assert.ok(!file.includes(t.split('.')[1] ?? 'x'), 'a token payload is in the audit file');
    }
    assert.ok(!file.includes(h.passwords['sync_writer'] ?? 'x'), 'the upstream password is in the audit file');
  });
});
