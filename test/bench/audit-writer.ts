/**
 * The audit writer's throughput, in events per second: the store alone (one thread, batches of
 * 1,000 in a transaction, hash-chained) and end to end through the writer thread. Part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowMicros, type WriterBatch } from '../../src/audit/audit-event.js';
import { SegmentBuilder } from '../../src/audit/event-segment.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AuditStore } from '../../src/audit/audit-store.js';
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-audit-bench-'));
  try {
    const store = new AuditStore(join(dir, 'store.db'));
    const sessions = Array.from({ length: SESSIONS }, (_, i) => `s${i}`);
    store.apply({ starts: sessions.map(benchSessionHeader), events: [], ends: [], logins: [] });
    let started = process.hrtime.bigint();
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
    let seconds = Number(process.hrtime.bigint() - started) / 1e9;
    store.close();
    process.stdout.write(`audit store, one thread, batches of 1,000: ${Math.round(EVENTS / seconds).toLocaleString('en')} events/s\n`);

    const log = await AuditLog.open(join(dir, 'log.db'), createLogger('silent'));
    const recorders = sessions.map((id) => log.startSession(benchSessionHeader(id), true));
    await log.flushed();
    started = process.hrtime.bigint();
    for (let i = 0; i < EVENTS; i++) {
      const recorder = recorders[i % SESSIONS];
      if (recorder !== undefined) append(recorder, i);
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
