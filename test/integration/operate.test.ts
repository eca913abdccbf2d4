import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { renameSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { settleAudit, showJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness, READ_ROLE } from '../support/harness.js';

const ADMIN_TOKEN = 'operate-test-admin-token-0123456789';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One agent's claims: a fixed identity, so its sessions are the same identity's. */
function agent(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { oid: randomUUID(), azp: randomUUID(), app_displayname: name, ...extra };
}

/** The value of one sample of the exposition (`name{labels} value`), 0 when absent. */
/** The sum of a metric's samples with these labels (and any others: a connection's over its identity-map entries). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const wanted = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (wanted) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('operating the gateway: admin endpoint, metrics, live sessions, the agent inside the database', () => {
  let h: Harness;
  let base: string;
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

  before(async () => {
    h = await Harness.start({
      admin: { host: '127.0.0.1', port: 0, 'token-env': 'IDGATE_ADMIN_TOKEN' },
      env: { IDGATE_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    const admin = h.gateway.admin;
    assert.ok(admin !== undefined);
    base = `http://127.0.0.1:${admin.port}`;
    await h.cluster.sql(
      [
        'CREATE TABLE orders (id serial PRIMARY KEY, item text, changed_by text)',
        // The worked example: a trigger stamps each row change with the agent behind it.
        "CREATE FUNCTION stamp_agent() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.changed_by := current_setting('idgate.identity_oid', true); RETURN NEW; END $$",
        'CREATE TRIGGER orders_stamp BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION stamp_agent()',
        'GRANT ALL ON orders TO sync_writer',
        'GRANT USAGE ON SEQUENCE orders_id_seq TO sync_writer',
      ].join('; '),
      'records',
    );
  });
  after(async () => {
    await h.stop();
  });

  const metricsText = async (): Promise<string> => {
    const r = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(r.status, 200);
    return r.text();
  };

  it('answers the probes to anyone, everything else only with the token, and nothing from a web page', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    assert.equal((await fetch(`${base}/sessions`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
    assert.equal((await fetch(`${base}/sessions`, { headers: { ...auth, origin: 'https://evil.example' } })).status, 403);
    const form = await fetch(`${base}/sessions/${randomUUID()}/terminate`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'by=x',
    });
    assert.equal(form.status, 415, 'a terminate must be JSON, which a cross-site form cannot send');
    assert.equal(
      (
        await fetch(`${base}/sessions/${randomUUID()}/terminate`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{}',
        })
      ).status,
      404,
    );
    assert.equal(
      (
        await fetch(`${base}/sessions/not-a-uuid/terminate`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: '{}',
        })
      ).status,
      400,
    );
  });

  it('counts in /metrics exactly what a session mix did', async () => {
    const before = await metricsText();
    const writer = new pg.Client(pgOptions(h, await h.token(agent('metrics-writer'))));
    const reader = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [READ_ROLE] })));
    await writer.connect();
    await reader.connect();
    for (let i = 0; i < 5; i++) await writer.query('SELECT $1::int AS n', [i]); // extended protocol: one round trip each
    await writer.query('BEGIN');
    await writer.query("INSERT INTO orders (item) VALUES ('metrics')");
    await writer.query('COMMIT');
    await reader.query('SELECT count(*) FROM records');
    await assert.rejects(reader.query("INSERT INTO records (title) VALUES ('nope')"), { code: '42501' });
    await assert.rejects(new pg.Client(pgOptions(h, await h.token({}, { expiresIn: -600 }))).connect());
    const during = await metricsText();
    assert.equal(sample(during, 'idgate_up'), 1);
    assert.equal(sample(during, 'idgate_client_active_connections', { connection: CONNECTION }), 2);
    assert.equal(sample(during, 'idgate_sessions', { connection: CONNECTION, entry: 'writers' }), 1);
    assert.equal(sample(during, 'idgate_sessions', { connection: CONNECTION, entry: `#1 entra-app-role:${READ_ROLE}` }), 1);
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      sample(during, name, labels) - sample(before, name, labels);
    // 5 selects + BEGIN, INSERT, COMMIT by the writer; a count and a denied INSERT by the reader.
    assert.equal(delta('idgate_queries_total', { connection: CONNECTION }), 10);
    assert.equal(delta('idgate_transactions_total', { connection: CONNECTION }), 1);
    assert.ok(delta('idgate_queries_duration_seconds_total', { connection: CONNECTION }) > 0);
    assert.ok(delta('idgate_received_bytes_total', { connection: CONNECTION }) > 0);
    assert.ok(delta('idgate_sent_bytes_total', { connection: CONNECTION }) > 0);
    assert.equal(delta('idgate_logins_total', { result: 'accepted', reason: 'accepted' }), 2);
    assert.equal(delta('idgate_logins_total', { result: 'refused', reason: 'token-expired' }), 1);
    assert.equal(delta('idgate_token_verification_seconds_count', { result: 'ok' }), 2);
    assert.equal(delta('idgate_token_verification_seconds_count', { result: 'refused' }), 1);
    assert.equal(delta('idgate_scope_denials_total', { connection: CONNECTION, entry: `#1 entra-app-role:${READ_ROLE}` }), 1);
    // A scoped session's reply model stayed in step with the server (exposed, and 0).
    assert.match(during, /^idgate_reply_out_of_sync_total\{[^}]*\} 0$/m);
    assert.ok(sample(during, 'idgate_audit_write_seconds_count') > 0);
    assert.equal(sample(during, 'idgate_audit_healthy'), 1);
    // Recorded write-ahead: each of the 10 statements' chunks waited for the journal, which appended
    // at least once (also at each batch sent to the writer, so appends are not bounded by them).
    assert.equal(delta('idgate_audit_journal_held_chunks_total'), 10);
    assert.ok(delta('idgate_audit_journal_appends_total') >= 1);
    await writer.end();
    await reader.end();
    await settleAudit(h);
    const afterEnd = await metricsText();
    // Ended sessions keep their totals.
    assert.equal(
      sample(afterEnd, 'idgate_queries_total', { connection: CONNECTION }),
      sample(during, 'idgate_queries_total', { connection: CONNECTION }),
    );
    assert.equal(sample(afterEnd, 'idgate_client_active_connections', { connection: CONNECTION }), 0);
    assert.equal(
      sample(afterEnd, 'idgate_sessions_ended_total', { connection: CONNECTION, reason: 'client-terminated' }) -
        sample(before, 'idgate_sessions_ended_total', { connection: CONNECTION, reason: 'client-terminated' }),
      2,
    );
  });

  it('cancels the statement a session it ends was running: a write under way when an operator terminates it is not committed', async () => {
    await h.cluster.sql("INSERT INTO orders (item) VALUES ('before-terminate')", 'records');
    const c = new pg.Client(pgOptions(h, await h.token(agent('slow-writer'))));
    c.on('error', () => undefined);
    await c.connect();
    try {
      const id = String((await c.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
      const sql =
        "WITH pause AS (SELECT pg_sleep(4)) UPDATE orders SET item = 'after-terminate' FROM pause WHERE item = 'before-terminate'";
      const running = c.query(sql).then(
        () => 'completed',
        (e: { code?: string }) => e.code,
      );
      await h.untilRunning(sql);
      const ended = await fetch(`${base}/sessions/${id}/terminate`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ by: 'dba-on-call' }),
      });
      assert.equal(ended.status, 200);
      assert.equal(await running, '57P01');
      // Past the sleep: the UPDATE would have committed by now had it run on.
      await new Promise((r) => setTimeout(r, 4500));
      assert.equal(
        await h.cluster.sql("SELECT string_agg(item, ',') FROM orders WHERE item LIKE '%-terminate'", 'records'),
        'before-terminate',
      );
    } finally {
      await c.end().catch(() => undefined);
    }
  });

  it('lists live sessions, and ends exactly the one an operator terminates, recording who asked', async () => {
    const claims = agent('orders-agent');
    const first = new pg.Client(pgOptions(h, await h.token(claims)));
    const second = new pg.Client(pgOptions(h, await h.token(claims)));
    await first.connect();
    await second.connect();
    // node-postgres reports the FATAL, then the closed connection: the first is the one that counts.
    const firstError = new Promise<Error & { code?: string }>((resolve) => first.on('error', resolve));
    const firstId = String((await first.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
    const secondId = String((await second.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
    await second.query('BEGIN');

    const listed = (await (await fetch(`${base}/sessions`, { headers: auth })).json()) as { sessions: Record<string, unknown>[] };
    const mine = listed.sessions.filter((s) => s['identity'] === claims['oid']);
    assert.deepEqual(mine.map((s) => s['id']).sort(), [firstId, secondId].sort());
    const shownSecond = mine.find((s) => s['id'] === secondId);
    assert.equal(shownSecond?.['state'], 'idle in transaction');
    assert.equal(shownSecond?.['displayName'], 'orders-agent');
    assert.equal(shownSecond?.['connection'], CONNECTION);
    assert.equal(shownSecond?.['scope'], 'all');
    assert.equal(typeof shownSecond?.['lastStatementAt'], 'string');
    assert.equal(typeof shownSecond?.['rowsReturned'], 'number', 'what left the database so far, live');

    // The CLI finds the endpoint and its token through the config file's admin section.
    const { file, env } = h.writeConfigFile((d) => {
      d['admin'] = { ...(d['admin'] as Record<string, unknown>), port: Number(new URL(base).port) };
    });
    const status = await idgate(['status', '--config', file], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(firstId));
    assert.match(status.stdout, /idle in transaction/);
    assert.match(status.stdout, /rows sent\/written/);

    const terminated = await idgate(['terminate', firstId, '--config', file, '--by', 'dba-on-call'], env);
    assert.equal(terminated.code, 0, terminated.stderr);
    const error = await firstError;
    assert.equal(error.code, '57P01');
    assert.match(error.message, /administrator/);
    // The other session of the same agent carries on, its transaction intact.
    await second.query("INSERT INTO orders (item) VALUES ('survivor')");
    await second.query('COMMIT');
    const again = await idgate(['terminate', firstId, '--config', file], env);
    assert.equal(again.code, 1, 'a session that is gone is reported, not silently accepted');
    await second.end();
    await first.end().catch(() => undefined);
    await settleAudit(h);
    const events = await showJson(h, firstId);
    const note = events.find((e) => e['kind'] === 'Terminated');
    assert.ok(note !== undefined, JSON.stringify(events));
    assert.match(JSON.stringify(note), /dba-on-call/);
    assert.match(JSON.stringify(note), /bearer-token/);
    const sessions = await idgate(['sessions', '--json', '--db', h.config.recordingsPath]);
    const row = sessions.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((s) => s['id'] === firstId);
    assert.equal(row?.['endReason'], 'admin-terminated');
  });

  it('tells the database who the agent is, and a parsed scope cannot change it', async () => {
    const claims = agent('billing-agent', { groups: [], roles: [READ_ROLE] });
    const reader = new pg.Client(pgOptions(h, await h.token(claims), { application_name: 'nightly-report' }));
    await reader.connect();
    const seen = await reader.query(
      "SELECT current_setting('idgate.identity_oid') AS oid, current_setting('idgate.app_id') AS app, current_setting('idgate.display_name') AS name, current_setting('application_name') AS application_name",
    );
    assert.deepEqual(seen.rows[0], {
      oid: claims['oid'],
      app: claims['azp'],
      name: 'billing-agent',
      application_name: 'billing-agent | nightly-report',
    });
    // What a DBA sees in pg_stat_activity.
    const fromDba = await h.cluster.sql("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'billing-agent%'");
    assert.equal(fromDba.trim(), 'billing-agent | nightly-report');
    for (const sql of [
      "SET idgate.identity_oid = 'someone-else'",
      "SELECT set_config('idgate.app_id', 'x', false)",
      "SELECT set_config('application_name', 'orders-agent', false)",
      "SET application_name = 'orders-agent'; SELECT 1",
      'SET IDGATE.Display_Name = 1',
    ]) {
      await assert.rejects(reader.query(sql), { code: '42501' }, sql);
    }
    // A lone SET application_name (pgJDBC sends one after login) keeps the agent's name first.
    await reader.query("SET application_name = 'orders-agent'");
    assert.equal((await reader.query('SHOW application_name')).rows[0].application_name, 'billing-agent | orders-agent');
    const renamed = await h.cluster.sql("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE '%orders-agent'");
    assert.equal(renamed.trim(), 'billing-agent | orders-agent');
    await reader.query('RESET idgate.identity_oid'); // back to what the gateway set
    assert.equal((await reader.query("SELECT current_setting('idgate.identity_oid') AS oid")).rows[0].oid, claims['oid']);
    await reader.end();

    // A row change is attributed to the agent by the database's own trigger.
    const writerClaims = agent('stamping-agent');
    const writer = new pg.Client(pgOptions(h, await h.token(writerClaims)));
    await writer.connect();
    const stamped = await writer.query("INSERT INTO orders (item) VALUES ('stamped') RETURNING changed_by");
    assert.equal(stamped.rows[0].changed_by, writerClaims['oid']);
    await writer.end();
    await h.assertNoLeaks();
  });

  it('accepts custom settings and (for scope all) search_path at startup, refuses idgate.* there, and closes a bare Terminate silently', async () => {
    const custom = new pg.Client(pgOptions(h, await h.token(), { options: '-c app.tenant=42 -c search_path=pg_catalog,public' }));
    await custom.connect();
    const r = await custom.query("SELECT current_setting('app.tenant') AS tenant, current_setting('search_path') AS path");
    assert.deepEqual(r.rows[0], { tenant: '42', path: 'pg_catalog,public' });
    await custom.end();
    const spoof = new pg.Client(pgOptions(h, await h.token(), { options: '-c idgate.identity_oid=x' }));
    await assert.rejects(spoof.connect(), { code: '42501' });
    const scoped = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [READ_ROLE] }), { options: '-c search_path=other' }));
    await assert.rejects(scoped.connect(), { code: '42501' });
    const { RawClient } = await import('../support/raw-client.js');
    const bare = await RawClient.connect(h.port);
    bare.write(Buffer.from([0x58, 0, 0, 0, 4]));
    await bare.waitClosed(3000);
    assert.equal(bare.buffered, 0, 'no ErrorResponse for a client that only said goodbye');
    await h.assertNoLeaks();
  });

  it('is ready only while the upstream answers and the audit database is in place, naming what failed', async () => {
    const ready = async (): Promise<{
      status: number;
      body: { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] };
    }> => {
      const r = await fetch(`${base}/readyz`);
      return { status: r.status, body: (await r.json()) as { ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] } };
    };
    const fine = await ready();
    assert.equal(fine.status, 200);
    assert.deepEqual(
      fine.body.checks.map((c) => c.name).sort(),
      ['audit-log', 'signing-keys', `upstream:${CONNECTION}`, 'upstream:other-db'].sort(),
    );

    const db = h.config.recordingsPath;
    // Nothing is written while the file is away, so the writer itself does not notice (a write would fail closed until a restart).
    await h.gateway.services.audit.flushed();
    renameSync(db, `${db}.moved`);
    const moved = await ready();
    assert.equal(moved.status, 503);
    assert.deepEqual(
      moved.body.checks.filter((c) => !c.ok).map((c) => c.name),
      ['audit-log'],
    );
    renameSync(`${db}.moved`, db);
    assert.equal((await ready()).status, 200);

    await h.cluster.halt();
    const down = await ready();
    assert.equal(down.status, 503);
    assert.deepEqual(
      down.body.checks
        .filter((c) => !c.ok)
        .map((c) => c.name)
        .sort(),
      ['upstream:other-db', `upstream:${CONNECTION}`],
      JSON.stringify(down.body),
    );
    await h.cluster.restart();
    for (let i = 0; i < 50 && (await ready()).status !== 200; i++) await sleep(100);
    assert.equal((await ready()).status, 200);
  });
});
