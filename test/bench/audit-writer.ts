/**
 * The audit writer's throughput, in events per second: the store alone (one thread, batches of
 * 1,000 in a transaction, hash-chained), the same listing every row for a central store, end to
 * end through the writer thread, and the central store's ingest rate (what the shipper moves from
 * a local database into PostgreSQL). Part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowMicros, type WriterBatch } from '../../src/audit/audit-event.js';
import { SegmentBuilder } from '../../src/audit/event-segment.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditStore, openAuditDatabase } from '../../src/audit/audit-store.js';
import { migrateCentral } from '../../src/audit/central/central-schema.js';
import { insertShipment, localLogId, readShipment } from '../../src/audit/central/ship-batch.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { createLogger } from '../../src/logging/logger.js';
import { sessionHeader as benchSessionHeader } from '../support/session-header.js';

const EVENTS = Number(process.env['IDGATE_BENCH_EVENTS'] ?? 300_000);
const SESSIONS = 8;

/** A frame: type, length, body. */
function frame(code: string, body: string): Buffer {
  const b = Buffer.from(body);
  const f = Buffer.alloc(5 + b.length);
  f.write(code, 0, 'latin1');
  f.writeInt32BE(4 + b.length, 1);
  b.copy(f, 5);
  return f;
}

/** The raw frames of a pgbench -S transaction, alternating: the client's Query, the server's outcome frames. */
const QUERY = (i: number): Buffer => frame('Q', `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};\0`);
const OUTCOME = Buffer.concat([frame('C', 'SELECT 1\0'), frame('Z', 'I')]);
interface RawTarget {
  recordRaw(direction: 'client' | 'server', kind: string, statements: number, errors: number, data: Uint8Array): void;
}

function append(target: RawTarget, i: number): void {
  if (i % 2 === 0) target.recordRaw('client', 'pg-frames', 0, 0, QUERY(i));
  else target.recordRaw('server', 'pg-frames', 1, 0, OUTCOME);
}

/** Writes EVENTS events of SESSIONS sessions through a store, in batches of 1,000; returns the seconds it took. */
function fillStore(store: AuditStore, sessions: readonly string[]): number {
  store.apply({ starts: sessions.map(benchSessionHeader), events: [], ends: [], logins: [] });
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i += 1000) {
    const batch: WriterBatch = {
      starts: [],
      events: sessions.map((sessionId, k) => {
        const builder = new SegmentBuilder();
        const target: RawTarget = { recordRaw: (d, kind, st, er, data) => void builder.append(nowMicros(), d, kind, st, er, data) };
        for (let j = 0; j < 1000 / SESSIONS; j++) append(target, i + k + j);
        return { sessionId, ...builder.take() };
      }),
      ends: [],
      logins: [],
    };
    store.apply(batch);
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Ships everything a local database lists for the central store, as the shipper thread does; returns the seconds it took. */
async function shipEverything(path: string, central: PostgresCluster): Promise<number> {
  const owner = new pg.Client({
    host: central.host,
    port: central.port,
    database: 'postgres',
    user: central.superuser,
    password: central.superuserPassword,
  });
  await owner.connect();
  const db = openAuditDatabase(path);
  try {
    await migrateCentral(owner, undefined);
    const logId = localLogId(db);
    const started = process.hrtime.bigint();
    for (;;) {
      const shipment = readShipment(db, logId, 2000);
      if (shipment === undefined) break;
      await insertShipment(owner, shipment);
      db.prepare('DELETE FROM ship_outbox WHERE seq <= ?').run(shipment.throughSeq);
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    db.close();
    await owner.end();
  }
}

const rate = (seconds: number): string => Math.round(EVENTS / seconds).toLocaleString('en');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-audit-bench-'));
  try {
    const sessions = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
    const store = new AuditStore(join(dir, 'store.db'));
    process.stdout.write(`audit store, one thread, batches of 1,000: ${rate(fillStore(store, sessions))} events/s\n`);
    store.close();
    const shipping = new AuditStore(join(dir, 'ship.db'), { ship: true });
    process.stdout.write(`the same, listing its rows for a central store (ship_outbox): ${rate(fillStore(shipping, sessions))} events/s\n`);
    shipping.close();
    const central = await PostgresCluster.start();
    try {
      process.stdout.write(
        `central store ingest, shipments of 2,000 outbox rows in one transaction each: ${rate(await shipEverything(join(dir, 'ship.db'), central))} events/s\n`,
      );
    } finally {
      await central.stop();
    }

    const log = await AuditLog.open(join(dir, 'log.db'), createLogger('silent'));
    const recorders = sessions.map((id) => log.startSession(benchSessionHeader(id), true));
    await log.flushed();
    const started = process.hrtime.bigint();
    for (let i = 0; i < EVENTS; i++) {
      const recorder = recorders[i % SESSIONS];
      if (recorder !== undefined) append(recorder, i);
      if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    await log.flushed();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await log.close();
    process.stdout.write(`audit log end to end, through the writer thread: ${rate(seconds)} events/s\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
