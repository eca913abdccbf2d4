import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { AuditReader } from '../../src/audit/audit-reader.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';
import { startNodeProcess, type NodeProcess } from '../support/node-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** How long the central store is down in the outage test (the figure). */
const OUTAGE_MS = 30_000;
/**
 * The pause between two statements of one client during the outage. A steady load of a few hundred
 * statements a second per node builds a backlog of thousands of events; unpaced, the two clients
 * took both cores for the whole 30 s (70,000 statements), from every other test file running beside.
 */
const LOAD_PAUSE_MS = 2;

/**
 * Two gateways — one in this process (node-a), one its own process (node-b) — each with its own
 * local log, both shipping to one central PostgreSQL, itself a real cluster. The CLI reads the
 * fleet from there; the gateways' role can only add rows.
 */
describe('a fleet shipping to a central PostgreSQL audit store', () => {
  let central: PostgresCluster;
  let h: Harness;
  let nodeB: NodeProcess;
  let portB: number;
  let ownerUrl: string;
  let writerPassword: string;
  let writerUrl: string;

  before(async () => {
    const store = await startCentralStore();
    central = store.cluster;
    ownerUrl = store.ownerUrl;
    writerPassword = store.writerPassword;
    assert.match(store.migrateOutput, /migrated from version 0 to \d+; idgate_writer may INSERT and SELECT/);
    writerUrl = store.writerUrl;
    const recordings = { central: { url: writerUrl } };
    h = await Harness.start({ nodeId: 'node-a', recordings });
    nodeB = await startNodeProcess(h, 'node-b', recordings);
    portB = nodeB.port;
  });
  after(async () => {
    await nodeB?.stop();
    await h?.stop();
    await central?.stop();
  });

  async function connect(port: number): Promise<pg.Client> {
    const client = new pg.Client(pgOptions(h, await h.token(), { port }));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async function centralSessions(): Promise<{ id: string; node: string; endReason: string | null; statements: number }[]> {
    const r = await idgate(['sessions', '--json', '--db', ownerUrl]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() === ''
      ? []
      : r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { id: string; node: string; endReason: string | null; statements: number });
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  it('lists the sessions of every node, a live one within seconds; show reads one; verify checks each node log', async (t) => {
    const a = await connect(h.port);
    await a.query('SELECT 1 AS from_node_a');
    const b = await connect(portB);
    await b.query('SELECT 2 AS from_node_b');
    await b.end();
    const started = Date.now();
    const live = await waitFor('both nodes in the central store', async () => {
      const rows = await centralSessions();
      const fromA = rows.find((r) => r.node === 'node-a' && r.endReason === null && r.statements >= 1);
      return fromA !== undefined && rows.some((r) => r.node === 'node-b') ? { rows, fromA } : undefined;
    });
    t.diagnostic(`a live session was listed centrally ${Date.now() - started} ms after its statement`);
    const shown = await idgate(['show', live.fromA.id, '--json', '--db', ownerUrl]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /SELECT 1 AS from_node_a/);
    assert.match(
      shown.stdout,
      /"delivered":\{"returned":1,"affected":0,"bytes":\d+\}/,
      'what left the database, read from the central store',
    );
    const sealedB = await waitFor('the node-b session sealed centrally', async () =>
      (await centralSessions()).find((r) => r.node === 'node-b' && r.endReason !== null),
    );
    assert.equal((sealedB as { rowsReturned?: number }).rowsReturned, 1, 'the session’s rows travel with its seal');
    const onlyB = await idgate(['sessions', '--json', '--node', 'node-b', '--db', ownerUrl]);
    assert.ok(
      onlyB.stdout
        .trim()
        .split('\n')
        .every((l) => (JSON.parse(l) as { node: string }).node === 'node-b'),
    );
    await a.end();
    await waitFor('node-a session sealed centrally', async () =>
      (await centralSessions()).find((r) => r.id === live.fromA.id)?.endReason ? true : undefined,
    );
    const verified = await idgate(['verify', '--db', ownerUrl]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /node node-a log .*: ok/);
    assert.match(verified.stdout, /node node-b log .*: ok/);
  });

  it('reads a DBA’s password from the password file when the URL has none, as psql does, and refuses a URL parameter it does not read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idgate-pgpass-'));
    try {
      const file = join(dir, 'pgpass');
      writeFileSync(file, `127.0.0.1:${central.port}:audit:${central.superuser}:${central.superuserPassword.replace(/[:\\]/g, '\\$&')}\n`, {
        mode: 0o600,
      });
      const url = `postgres://${central.superuser}@127.0.0.1:${central.port}/audit?sslmode=disable`;
      const withFile = await idgate(['sessions', '--json', '--db', url], { PGPASSFILE: file });
      assert.equal(withFile.code, 0, withFile.stderr);
      const without = await idgate(['sessions', '--json', '--db', url], { PGPASSFILE: join(dir, 'none') });
      assert.notEqual(without.code, 0);
      const service = await idgate(['sessions', '--db', `${url}&service=audit`]);
      assert.equal(service.code, 2);
      assert.match(service.stderr, /service= \(pg_service\.conf\) is not supported/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the gateways' role INSERT and SELECT only: shipped history cannot be changed or removed with it", async () => {
    const writer = new pg.Client({
      host: '127.0.0.1',
      port: central.port,
      database: 'audit',
      user: 'idgate_writer',
      password: writerPassword,
    });
    await writer.connect();
    try {
      for (const sql of [
        "UPDATE idgate_audit.sessions SET scope = 'all'",
        'DELETE FROM idgate_audit.event_segments',
        'TRUNCATE idgate_audit.login_attempts',
        'DROP TABLE idgate_audit.session_seals',
        'CREATE TABLE idgate_audit.extra (x int)',
      ]) {
        await assert.rejects(writer.query(sql), (e: { code?: string }) => e.code === '42501' || e.code === '42P01', sql);
      }
      assert.ok(Number((await writer.query('SELECT count(*) AS n FROM idgate_audit.sessions')).rows[0].n) > 0, 'it can read');
    } finally {
      await writer.end();
    }
  });

  it(
    'keeps recording through 30 s of the central store down under load, and ships everything once it is back: no gap, no duplicate',
    { timeout: 120_000 },
    async (t) => {
      await central.halt();
      const clients = await Promise.all([connect(h.port), connect(portB)]);
      const until = Date.now() + OUTAGE_MS;
      let statements = 0;
      // Both nodes under a steady load for the whole outage.
      await Promise.all(
        clients.map(async (c) => {
          for (let i = 0; Date.now() < until; i++) {
            await c.query(`SELECT ${i} AS while_down`);
            statements += 1;
            await sleep(LOAD_PAUSE_MS);
          }
        }),
      );
      assert.ok(statements > 5_000, `a steady load: ${statements} statements`);
      t.diagnostic(`${statements} statements recorded while the central store was down for ${OUTAGE_MS / 1000} s`);
      await Promise.all(clients.map((c) => c.end()));
      await h.gateway.services.audit.flushed();
      await waitFor('a backlog while the store is down', async () => (h.gateway.services.audit.centralBacklog > 0 ? true : undefined));
      assert.ok(
        h.logLines.some((l) => l.includes('the central audit store cannot be reached')),
        'the outage is in the log',
      );
      await central.restart();
      await waitFor(
        'the backlog shipped',
        async () =>
          h.gateway.services.audit.centralBacklog === 0 && h.logLines.some((l) => l.includes('reachable again')) ? true : undefined,
        30_000,
      );
      await waitFor(
        'node-b caught up',
        async () => {
          const rows = await centralSessions();
          return rows.some((r) => r.node === 'node-b' && r.statements >= 50) ? true : undefined;
        },
        30_000,
      );
      await assertComplete();
      const verified = await idgate(['verify', '--db', ownerUrl]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    },
  );

  it("loses and doubles nothing when the shipper's connection is killed again and again mid-shipment", async () => {
    const client = await connect(h.port);
    let killed = 0;
    const killer = setInterval(() => {
      void central
        .sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'idgate shipper'", 'audit')
        .then(
          (n) => (killed += Number(n)),
          () => undefined,
        );
    }, 150);
    try {
      // At least 300 statements, and on until the shipper's connection was killed a few times (at most 20 s).
      const until = Date.now() + 20_000;
      for (let i = 0; i < 300 || (killed < 3 && Date.now() < until); i++) {
        await client.query(`SELECT ${i} AS while_killed, repeat('x', 2000)`);
      }
    } finally {
      clearInterval(killer);
    }
    await client.end();
    assert.ok(killed > 0, 'the shipper lost its connection at least once');
    await h.gateway.services.audit.flushed();
    // The shipper backs off while it cannot connect (up to 15 s): wait for it to catch up.
    await waitFor(
      'everything shipped',
      async () =>
        assertComplete().then(
          () => true,
          () => undefined,
        ),
      40_000,
    );
    const verified = await idgate(['verify', '--db', ownerUrl]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });

  it('fails closed once more rows wait than recordings.central.backlog-limit allows, and recovers when they are shipped', async () => {
    const limited = await Harness.start({
      nodeId: 'node-limited',
      recordings: { central: { url: `postgres://idgate_writer:${writerPassword}@127.0.0.1:${central.port}/audit`, 'backlog-limit': 20 } },
    });
    try {
      await central.halt();
      const client = new pg.Client(pgOptions(limited, await limited.token()));
      // Ended while idle, the FATAL comes as the client's error event; during a query, as the query's error.
      let fatal: (Error & { code?: string }) | undefined;
      client.on('error', (e: Error & { code?: string }) => {
        fatal ??= e;
      });
      await client.connect();
      const ended = await (async () => {
        for (let i = 0; i < 200; i++) {
          const failed = await client.query(`SELECT ${i}`).then(
            () => undefined,
            (e: { code?: string }) => e,
          );
          if (failed !== undefined) return fatal ?? failed;
          await sleep(50);
        }
        return undefined;
      })();
      assert.equal(ended?.code, '57P01', `the recorded session is ended once the backlog passes the limit: ${JSON.stringify(ended)}`);
      assert.ok(limited.logLines.some((l) => l.includes('recordings.central.backlog-limit')));
      await assert.rejects(
        (async () => {
          const again = new pg.Client(pgOptions(limited, await limited.token()));
          again.on('error', () => undefined);
          await again.connect();
        })(),
        (e: { code?: string }) => e.code === '57P03',
        'new recorded sessions are refused',
      );
      await central.restart();
      await waitFor('recording recovers', async () => (limited.gateway.services.audit.healthy ? true : undefined), 40_000);
      const after = new pg.Client(pgOptions(limited, await limited.token()));
      await after.connect();
      await after.query('SELECT 1');
      await after.end();
    } finally {
      await limited.stop();
    }
  });

  it('names the node whose log was tampered with in the central store (by its owner, who alone can edit it)', async () => {
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const victim = await owner.query<{ session_id: string }>(
        "SELECT e.session_id FROM idgate_audit.event_segments e JOIN idgate_audit.sessions s ON s.id = e.session_id WHERE s.node_id = 'node-b' LIMIT 1",
      );
      const sessionId = victim.rows[0]?.session_id;
      assert.ok(sessionId !== undefined);
      // One byte of a recorded statement changed.
      await owner.query(
        "UPDATE idgate_audit.event_segments SET lines = overlay(lines PLACING '\\x21'::bytea FROM length(lines) - 40 FOR 1) WHERE session_id = $1",
        [sessionId],
      );
    } finally {
      await owner.end();
    }
    const verified = await idgate(['verify', '--db', ownerUrl]);
    assert.equal(verified.code, 1, verified.stdout);
    assert.match(verified.stdout, /node node-b log [^:]+: TAMPERED/);
    assert.match(verified.stdout, /node node-a log [^:]+: ok/);
    assert.match(verified.stdout, /FAILED: \d+ node logs/);
  });

  it('prunes the central store as its owner only, and verify passes from the checkpoint it leaves (the edited log’s sessions pruned with the rest)', async () => {
    const asWriter = await idgate(['prune', '--older-than', '1s', '--db', writerUrl]);
    assert.notEqual(asWriter.code, 0, "the gateways' role cannot delete");
    assert.match(asWriter.stderr, /permission denied/);
    await sleep(1100);
    const before = await centralSessions();
    const pruned = await idgate(['prune', '--older-than', '1s', '--db', ownerUrl]);
    assert.equal(pruned.code, 0, pruned.stderr);
    const count = Number(/pruned (\d+) sessions/.exec(pruned.stdout)?.[1]);
    assert.ok(count > 0, pruned.stdout);
    assert.equal((await centralSessions()).length, before.length - count);
    const verified = await idgate(['verify', '--db', ownerUrl]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });

  /** Every node-a session the local log holds is in the central store with every one of its events, once, in order. */
  async function assertComplete(): Promise<void> {
    const local = new AuditReader(h.config.recordingsPath);
    const sessions = local.sessions();
    local.close();
    const db = new pg.Client({ connectionString: ownerUrl });
    await db.connect();
    try {
      const rows = await db.query<{ session_id: string; events: string; top: string; segments: string }>(
        'SELECT session_id, sum(last_seq - first_seq + 1) AS events, max(last_seq) AS top, count(*) AS segments FROM idgate_audit.event_segments GROUP BY session_id',
      );
      const byId = new Map(rows.rows.map((r) => [r.session_id, r]));
      const gaps = await db.query(
        `SELECT session_id FROM (SELECT session_id, first_seq, lag(last_seq) OVER (PARTITION BY session_id ORDER BY first_seq) AS previous FROM idgate_audit.event_segments) s
         WHERE first_seq <> coalesce(previous, 0) + 1`,
      );
      assert.deepEqual(gaps.rows, [], "each session's segments run from event 1 without a gap or an overlap");
      for (const s of sessions) {
        if (s.event_count === 0) continue;
        const shipped = byId.get(s.id);
        assert.equal(Number(shipped?.events), s.event_count, `session ${s.id}: ${shipped?.events ?? 0} of ${s.event_count} events shipped`);
        assert.equal(Number(shipped?.top), s.event_count);
      }
    } finally {
      await db.end();
    }
  }
});
