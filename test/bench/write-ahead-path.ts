/**
 * What the write-ahead journal's way costs the relay thread per round trip, apart from sockets:
 * recorded round trips (pgbench -S, simple and extended) of one or three sessions per event-loop
 * turn, each client chunk forwarded only once `afterDurable` calls back, against the same round
 * trips recorded in batches (no journal). Each turn ends with a yield to the event loop, as the
 * relay's does, so the journal's cut, its append and the release of held chunks are in the figure,
 * as is what the loop does per turn either way. The figure is the loop's busy time (event-loop
 * utilisation), not the wall clock: the writer thread's time, and waits for it, are not the relay's.
 * Unsigned and signed (records carry the node key's MAC). Part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PostgresRecorder } from '../../protocols/postgres/recording/postgres-recorder.js';
import { ResultTally } from '../../protocols/postgres/recording/result-tally.js';
import { FrameStream } from '../../protocols/postgres/wire/frame-stream.js';
import { SessionActivity } from '../../src/session/session-activity.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { Secret } from '../../src/config/secret.js';
import { createLogger } from '../../src/logging/logger.js';
import { NodeKey } from '../../src/signing/node-key.js';
import { sessionHeader } from '../support/session-header.js';
import { ROUND_TRIP, type Chunks } from './round-trips.js';

const TURNS = Number(process.env['IDGATE_BENCH_TURNS'] ?? 200_000);
/** Sessions whose round trips share one event-loop turn (pgbench -c 8 on two cores: about three). */
const PER_TURN = [1, 3];
const ROUNDS = Number(process.env['IDGATE_BENCH_ROUNDS'] ?? 5);
/**
 * IDGATE_BENCH_TRASH_KB: after each turn, read this many KB (a line at a time) to push the relay's
 * code and data out of the core's caches, as PostgreSQL and the clients do between two turns of a
 * live gateway on a small host. Every mode pays it alike, so the differences stay the relay's.
 */
const TRASH = new Uint8Array(Number(process.env['IDGATE_BENCH_TRASH_KB'] ?? 0) * 1024).fill(1);
/** Where the reads' sum goes, so the compiler cannot drop them. */
export let trashSink = 0;
function trashCaches(): void {
  for (let i = 0; i < TRASH.length; i += 64) trashSink += TRASH[i] ?? 0;
}

interface Mode {
  readonly name: string;
  readonly writeAhead: boolean;
  readonly signed: boolean;
}
const MODES: readonly Mode[] = [
  { name: 'batched', writeAhead: false, signed: false },
  { name: 'write-ahead', writeAhead: true, signed: false },
  { name: 'write-ahead signed', writeAhead: true, signed: true },
];

async function openLog(dir: string, mode: Mode): Promise<AuditLog> {
  const key = mode.signed ? { signingKey: new Secret(NodeKey.generate().pem) } : {};
  return AuditLog.open(join(dir, `${mode.name.replace(' ', '-')}.db`), createLogger('silent'), { writeAhead: mode.writeAhead, ...key });
}

let sessionCount = 0;

/** ns per round trip: `sessions` recorded round trips per turn, each client chunk held until durable. */
async function run(log: AuditLog, chunks: Chunks, sessions: number): Promise<number> {
  const pipes = Array.from({ length: sessions }, () => {
    const observer = new PostgresRecorder(
      log.startSession(sessionHeader(`s${(sessionCount += 1)}`), true),
      new ResultTally(new SessionActivity()),
    );
    return { fromClient: new FrameStream([observer.clientStage]), fromServer: new FrameStream([observer.serverStage]) };
  });
  let released = 0;
  const forward = (): void => {
    released += 1;
  };
  const before = performance.eventLoopUtilization();
  for (let turn = 0; turn < TURNS; turn++) {
    for (const pipe of pipes) {
      pipe.fromClient.push(chunks.client);
      log.afterDurable(forward);
      pipe.fromServer.push(chunks.server);
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (TRASH.length > 0) trashCaches();
    if (log.congested) await new Promise<void>((resolve) => log.whenDrained(resolve));
  }
  // The journal may be draining (emptied once the database holds all of it): wait for the last releases.
  for (let waits = 0; released < TURNS * sessions && waits < 1000; waits++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (released !== TURNS * sessions) throw new Error(`released ${released} of ${TURNS * sessions}`);
  return (performance.eventLoopUtilization(before).active * 1e6) / (TURNS * sessions);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-write-ahead-bench-'));
  const logs = new Map<string, AuditLog>();
  try {
    for (const mode of MODES) logs.set(mode.name, await openLog(dir, mode));
    for (const kind of ['simple', 'extended'] as const) {
      for (const sessions of PER_TURN) {
        const figures = new Map<string, number[]>(MODES.map((m) => [m.name, []]));
        for (let round = 0; round <= ROUNDS; round++) {
          // Modes alternate within a round; round 0 warms up (optimised code, steady writers).
          for (const mode of MODES) {
            const ns = await run(logs.get(mode.name) as AuditLog, ROUND_TRIP[kind], sessions);
            if (round > 0) figures.get(mode.name)?.push(ns);
          }
        }
        const base = median(figures.get('batched') ?? []);
        const line = MODES.map((m) => {
          const all = figures.get(m.name) ?? [];
          const med = median(all);
          const spread = `${Math.min(...all).toFixed(0)}–${Math.max(...all).toFixed(0)}`;
          return `${m.name} ${med.toFixed(0)} ns (${spread})${m.name === 'batched' ? '' : ` +${(med - base).toFixed(0)}`}`;
        }).join(', ');
        const trash = TRASH.length > 0 ? ` (caches trashed: ${TRASH.length >> 10} KB read per turn)` : '';
        process.stdout.write(`write-ahead path, ${kind}, ${sessions} per turn, per round trip${trash}: ${line}\n`);
      }
    }
  } finally {
    for (const log of logs.values()) {
      await log.flushed();
      await log.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
