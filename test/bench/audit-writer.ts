/**
 * The audit writer's throughput, in events per second: the store alone (one thread, batches of
 * 1,000 in a transaction, hash-chained) and end to end through the writer thread. Part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEventLine, nowMicros, type SessionHeader, type WriterBatch } from '../../src/audit/audit-event.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditStore } from '../../src/audit/audit-store.js';
import { createLogger } from '../../src/logging/logger.js';

const EVENTS = Number(process.env['IDGATE_BENCH_EVENTS'] ?? 300_000);
const SESSIONS = 8;

function header(id: string): SessionHeader {
  return {
    id,
    protocol: 'postgres',
    startedAtUs: nowMicros(),
    identity: { objectId: 'o', appId: 'a', tenantId: 't' },
    clientUser: 'bench',
    mapping: { index: 0, kind: 'entra-group', value: 'g', connection: 'c', scope: 'all', record: true },
    clientAddress: '127.0.0.1',
    clientTls: false,
    upstream: 'h:1/d',
  };
}

/** The events of a pgbench -S transaction, alternating: the Query, its CommandComplete. */
function line(i: number): string {
  return i % 2 === 0
    ? encodeEventLine({ atUs: nowMicros(), direction: 'client', kind: 'Query', data: { sql: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};` } })
    : encodeEventLine({ atUs: nowMicros(), direction: 'server', kind: 'CommandComplete', data: { tag: 'SELECT 1', rows: 1 }, outcome: 'ok' });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-audit-bench-'));
  try {
    const store = new AuditStore(join(dir, 'store.db'));
    const sessions = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
    store.apply({ starts: sessions.map(header), events: [], ends: [], logins: [] });
    let started = process.hrtime.bigint();
    for (let i = 0; i < EVENTS; i += 1000) {
      const batch: WriterBatch = {
        starts: [],
        events: sessions.map((sessionId, k) => ({ sessionId, lines: Array.from({ length: 1000 / SESSIONS }, (_, j) => line(i + k + j)) })),
        ends: [],
        logins: [],
      };
      store.apply(batch);
    }
    let seconds = Number(process.hrtime.bigint() - started) / 1e9;
    store.close();
    process.stdout.write(`audit store, one thread, batches of 1,000: ${Math.round(EVENTS / seconds).toLocaleString('en')} events/s\n`);

    const log = await AuditLog.open(join(dir, 'log.db'), createLogger('silent'));
    for (const id of sessions) log.startSession(header(id), true);
    await log.flushed();
    started = process.hrtime.bigint();
    for (let i = 0; i < EVENTS; i++) {
      log.appendEvent(`s${i % SESSIONS}`, line(i));
      if (i % 5000 === 0) await new Promise((r) => setImmediate(r));
    }
    await log.flushed();
    seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await log.close();
    process.stdout.write(`audit log end to end, through the writer thread: ${Math.round(EVENTS / seconds).toLocaleString('en')} events/s\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
