import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { Bytes } from '../support/byte-builder.js';
import { Harness, READ_ROLE } from '../support/harness.js';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const IDLE_APP = randomUUID();
const CAPPED_ROLE = 'Capped.Read';
const ROWS_ROLE = 'Rows.Read';
const ROWS_APP = randomUUID();

/** Opens connections with psycopg2 (Debian's, so the system python) until one is refused; prints what happened as JSON. */
const PSYCOPG_SESSIONS = `
import json, sys, time, psycopg2
conninfo, token, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
held, out = [], {"opened": 0}
for _ in range(wanted):
    try:
        held.append(psycopg2.connect(conninfo, password=token))
        out["opened"] += 1
    except psycopg2.OperationalError as e:
        out["refused"] = str(e).strip()
        break
held.pop().close()
time.sleep(0.3)  # the gateway frees the slot once both sides of the session have closed
try:
    psycopg2.connect(conninfo, password=token).close()
    out["after_release"] = "ok"
except psycopg2.OperationalError as e:
    out["after_release"] = str(e).strip()
print(json.dumps(out))
`;

/**
 * Limits over the wire with real clients: psql for the statement timeout, psycopg2 for session
 * caps, node-postgres for the rest. Gateway-wide defaults, an identity-map entry's own and one
 * identity's override each take effect where they should.
 */
describe('per-agent limits', () => {
  let h: Harness;

  before(async () => {
    h = await Harness.start({
      listen: { 'memory-budget-bytes': 1 << 20 },
      limits: {
        'statement-timeout': '500ms',
        'idle-in-transaction-timeout': '1s',
        'max-sessions-per-identity': 2,
        identities: [
          { identity: IDLE_APP, 'idle-timeout': '1s', 'statement-timeout': '10s' },
          { identity: ROWS_APP, 'max-rows': 10 },
        ],
      },
      identityMap: [
        { 'entra-app-role': CAPPED_ROLE, connection: 'records-api', scope: 'read', limits: { 'max-sessions': 1 } },
        { 'entra-app-role': ROWS_ROLE, connection: 'records-api', scope: 'read', limits: { 'max-rows': 10 } },
      ],
    });
  });
  after(async () => {
    await h.stop();
  });

  it('applies statement-timeout upstream (psql), keeps a client’s stricter value, and a parsed scope cannot lift it', async () => {
    const psql = await run('psql', ['-X', '-q', '-A', '-t', h.conninfo(), '-c', 'SHOW statement_timeout', '-c', 'SELECT pg_sleep(2)'], {
      env: { ...process.env, PGPASSWORD: await h.token() },
    }).catch((e: { stdout: string; stderr: string }) => e);
    assert.match(psql.stdout, /500ms/);
    assert.match(psql.stderr, /canceling statement due to statement timeout/);

    const stricter = new pg.Client(pgOptions(h, await h.token(), { statement_timeout: 100 }));
    await stricter.connect();
    assert.equal((await stricter.query('SHOW statement_timeout')).rows[0].statement_timeout, '100ms');
    await stricter.end();
    const looser = new pg.Client(pgOptions(h, await h.token(), { options: '-c statement_timeout=0' }));
    await looser.connect();
    assert.equal((await looser.query('SHOW statement_timeout')).rows[0].statement_timeout, '500ms', 'asking for none gets the limit');
    await looser.end();

    const reader = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [READ_ROLE] })));
    await reader.connect();
    await assert.rejects(reader.query('SET statement_timeout = 0'), { code: '42501' });
    await assert.rejects(reader.query("SELECT set_config('idle_in_transaction_session_timeout', '0', false)"), { code: '42501' });
    await reader.query('RESET statement_timeout');
    assert.equal((await reader.query('SHOW statement_timeout')).rows[0].statement_timeout, '500ms');
    await reader.end();
    await h.assertNoLeaks();
  });

  it('ends a transaction left idle past idle-in-transaction-timeout (the server does, with 25P03)', async () => {
    const client = new pg.Client(pgOptions(h, await h.token()));
    const errors: (Error & { code?: string })[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    await client.query('BEGIN');
    await sleep(1600);
    await assert.rejects(client.query('SELECT 1'));
    assert.equal(errors[0]?.code, '25P03', errors.map((e) => e.message).join('; '));
    await client.end().catch(() => undefined);
    await h.assertNoLeaks();
  });

  it('caps one identity’s concurrent sessions and an identity-map entry’s (psycopg2), with 53300 naming the limit', async () => {
    const script = ['-c', PSYCOPG_SESSIONS];
    const refusals = async (limit: string): Promise<number> =>
      Number(
        new RegExp(`^idgate_limit_refusals_total\\{limit="${limit}"[^}]*\\} (\\d+)$`, 'm').exec(
          await h.gateway.services.metrics.text(),
        )?.[1] ?? 0,
      );
    const [perIdentityBefore, perEntryBefore] = [await refusals('max-sessions-per-identity'), await refusals('max-sessions')];
    const identity = await h.token({ oid: randomUUID(), azp: randomUUID() });
    const perIdentity = JSON.parse((await run('/usr/bin/python3', [...script, h.conninfo(), identity, '3'])).stdout) as Record<
      string,
      string | number
    >;
    assert.equal(perIdentity['opened'], 2);
    assert.match(
      String(perIdentity['refused']),
      /too many sessions for this identity: the limit is 2 \(limits max-sessions-per-identity\)/,
    );
    assert.equal(perIdentity['after_release'], 'ok', 'a slot is free again once a session ends');

    // Two identities through the entry capped at one session: the second waits its turn.
    const first = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [CAPPED_ROLE] })));
    await first.connect();
    const second = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [CAPPED_ROLE] })));
    const refused = await second.connect().then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    assert.equal(refused?.code, '53300');
    assert.match(refused?.message ?? '', /identity-map\[2\]\.limits\.max-sessions/);
    assert.equal(await refusals('max-sessions-per-identity'), perIdentityBefore + 1, 'counted under its own limit');
    assert.equal(await refusals('max-sessions'), perEntryBefore + 1);
    await first.end();
    await h.assertNoLeaks(); // its slot is free once the gateway has closed both sides
    const third = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [CAPPED_ROLE] })));
    await third.connect();
    await third.end();
    await h.assertNoLeaks();
  });

  it('ends a session idle past its identity’s idle-timeout with 57P05, never one running a long statement, and audits why', async () => {
    const idleClaims = { oid: randomUUID(), azp: IDLE_APP };
    const idle = new pg.Client(pgOptions(h, await h.token(idleClaims)));
    const errors: (Error & { code?: string })[] = [];
    idle.on('error', (e) => errors.push(e));
    await idle.connect();
    const busy = new pg.Client(pgOptions(h, await h.token({ oid: randomUUID(), azp: IDLE_APP })));
    await busy.connect();
    const other = new pg.Client(pgOptions(h, await h.token())); // no idle-timeout of its own
    await other.connect();
    // Quiet for 2.5 s on the wire, but running: not idle.
    await busy.query('SELECT pg_sleep(2.5)');
    await busy.end();
    for (let i = 0; i < 20 && errors.length === 0; i++) await sleep(100);
    assert.equal(errors[0]?.code, '57P05', errors.map((e) => e.message).join('; '));
    assert.match(errors[0]?.message ?? '', /idle-timeout of 1 s/);
    assert.equal((await other.query('SELECT 1 AS n')).rows[0].n, 1, 'a session without the limit is left alone');
    await other.end();
    await idle.end().catch(() => undefined);
    await settleAudit(h);
    const ended = await sessionsJson(h, { identity: IDLE_APP });
    assert.deepEqual(ended.map((s) => s['endReason']).sort(), ['client-terminated', 'idle-timeout'].sort());
  });

  it('truncates a result past max-rows with a warning, keeps the protocol in step, and audits it (scoped and scope all; psql too)', async () => {
    for (const claims of [{ groups: [], roles: [ROWS_ROLE] }, { azp: ROWS_APP }]) {
      const client = new pg.Client(pgOptions(h, await h.token(claims)));
      const notices: string[] = [];
      client.on('notice', (n) => notices.push(n.message ?? ''));
      await client.connect();
      const simple = await client.query('SELECT g FROM generate_series(1, 100) g');
      assert.equal(simple.rows.length, 10);
      assert.equal(simple.rowCount, 100, 'the command tag still says what the server produced');
      const extended = await client.query('SELECT g FROM generate_series(1, $1::int) g', [50]);
      assert.equal(extended.rows.length, 10);
      assert.equal(
        notices.filter((n) => /result truncated to 10 rows by the gateway \(limits max-rows\)/.test(n)).length,
        2,
        JSON.stringify(notices),
      );
      // In step: the next statements run and answer normally.
      assert.equal((await client.query('SELECT g FROM generate_series(1, 5) g')).rows.length, 5);
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
      await client.end();
    }
    const psql = await run('psql', ['-X', '-q', '-A', '-t', h.conninfo(), '-c', 'SELECT g FROM generate_series(1, 30) g'], {
      env: { ...process.env, PGPASSWORD: await h.token({ groups: [], roles: [ROWS_ROLE] }) },
    });
    assert.equal(psql.stdout.trim().split('\n').length, 10);
    assert.match(psql.stderr, /WARNING: {2}result truncated to 10 rows/);
    await settleAudit(h);
    const capped = await sessionsJson(h, { identity: ROWS_APP });
    const events = await showJson(h, String(capped[0]?.['id']));
    assert.ok(
      events.some((e) => e['kind'] === 'RowsCapped'),
      JSON.stringify(events),
    );
  });

  it('makes a session wait to assemble a message while the gateway-wide memory budget is spent, and no session that needs nothing held', async () => {
    const { RawClient } = await import('../support/raw-client.js');
    const sender = await RawClient.connect(h.port);
    await sender.startTls();
    await sender.login(await h.token(), { user: 'raw', database: 'records-api' });
    // A 2 MiB Query (the recorder assembles it whole) against a budget of 1 MiB: alone, it may pass; half sent, then a pause.
    const query = new Bytes().cstring(`SELECT length('${'x'.repeat(2 << 20)}') AS n`).frame('Q');
    sender.write(query.subarray(0, 100_000));
    for (let i = 0; i < 50 && h.gateway.services.budget.heldBytes === 0; i++) await sleep(20);
    assert.ok(h.gateway.services.budget.heldBytes > 2 << 20, 'the half-sent message is held against the budget');
    const second = new pg.Client(pgOptions(h, await h.token()));
    const small = new pg.Client(pgOptions(h, await h.token()));
    await second.connect();
    await small.connect();
    let secondAnswered = false;
    const secondAnswer = second.query(`SELECT length('${'y'.repeat(1536 << 10)}') AS n`).then((r) => {
      secondAnswered = true;
      return Number(r.rows[0].n);
    });
    assert.equal((await small.query('SELECT 1 AS one')).rows[0].one, 1, 'a session that holds nothing is not held back');
    await sleep(500);
    assert.equal(secondAnswered, false, 'another large message waits for the budget');
    assert.ok(h.gateway.services.budget.heldBytes < 3 << 20, 'and is not held meanwhile');
    sender.write(query.subarray(100_000));
    const frames = await sender.untilReady();
    assert.ok(
      frames.some((f) => f.code === 'D'),
      'the first large statement ran',
    );
    assert.equal(await secondAnswer, 1536 << 10, 'the waiting one runs once the first gave its bytes back');
    for (let i = 0; i < 50 && h.gateway.services.budget.heldBytes !== 0; i++) await sleep(20);
    assert.equal(h.gateway.services.budget.heldBytes, 0);
    sender.close();
    await second.end();
    await small.end();
    await h.assertNoLeaks();
  });

  it('judges a large statement on the analysis thread: its session waits for the verdict, the others do not', async () => {
    const reader = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [READ_ROLE] })));
    const other = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [READ_ROLE] })));
    await reader.connect();
    await other.connect();
    // Warm the analysis thread (its first start loads the parser).
    assert.equal((await reader.query(`SELECT length('${'w'.repeat(20_000)}') AS n`)).rows[0].n, 20_000);
    const order: string[] = [];
    const big = reader.query(`SELECT length('${'z'.repeat(900_000)}') AS n -- ${randomUUID()}`).then((r) => {
      order.push('large');
      return Number(r.rows[0].n);
    });
    // Parsing 900 KB takes about half a second; meanwhile the other session is answered.
    for (let i = 0; i < 10; i++) await other.query('SELECT 1');
    order.push('small');
    assert.equal(await big, 900_000);
    assert.deepEqual(order, ['small', 'large'], 'the relay thread was not held up by the large statement');
    // The verdict is the scope's, as inline: a large write is denied, and the session goes on in step.
    await assert.rejects(reader.query(`INSERT INTO records (title) VALUES ('${'z'.repeat(100_000)}')`), { code: '42501' });
    assert.equal((await reader.query('SELECT 2 AS two')).rows[0].two, 2);
    await reader.end();
    await other.end();
    await h.assertNoLeaks();
  });
});
