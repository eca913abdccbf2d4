/**
 * What recording costs the relay thread per round trip, apart from the kernel and the writer
 * thread: the work the relay does for each chunk of a recorded session (follow the frames, keep the
 * ones recorded, copy them into the session's segment) against the frame-following alone that an
 * unrecorded session does. pgbench -S round trips, simple and extended protocol, through a real
 * audit log (its writer thread running); only the relay's synchronous work is timed. Part of
 * `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresRecorder } from '../../protocols/postgres/recording/postgres-recorder.js';
import { ResultTally } from '../../protocols/postgres/recording/result-tally.js';
import { SessionActivity } from '../../src/session/session-activity.js';
import { Backend, Frontend } from '../../protocols/postgres/wire/codes.js';
import { FrameStream } from '../../protocols/postgres/wire/frame-stream.js';
import { SEE, type FrameStage } from '../../protocols/postgres/wire/frame-stage.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import type { SessionRecorder } from '../../src/audit/session-recorder.js';
import { createLogger } from '../../src/logging/logger.js';
import { sessionHeader as benchSessionHeader } from '../support/session-header.js';
import { ROUND_TRIP, type Chunks } from './round-trips.js';

const ROUND_TRIPS = 2_000_000;
/** Round trips between two yields to the event loop (so the audit log can hand batches over). */
const BURST = 5_000;

/** Times `roundTrip` in bursts, yielding between them (and waiting while the audit log is congested). */
async function timeBursts(log: AuditLog, roundTrip: () => void): Promise<number> {
  let busyNs = 0n;
  for (let done = 0; done < ROUND_TRIPS; done += BURST) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < BURST; i++) roundTrip();
    busyNs += process.hrtime.bigint() - started;
    await new Promise((resolve) => setImmediate(resolve));
    if (log.congested) await new Promise<void>((resolve) => log.whenDrained(resolve));
  }
  return Number(busyNs) / ROUND_TRIPS;
}

/** A stage that sees one frame type whole, as the relay's own Terminate watch and ReadyForQuery tracker do. */
function watch(code: number): FrameStage {
  const interest = new Uint8Array(256);
  interest[code] = 1;
  return { interest, header: () => SEE, see: () => undefined };
}

async function recorded(log: AuditLog, recorder: SessionRecorder, chunks: Chunks): Promise<number> {
  const tally = new ResultTally(new SessionActivity());
  const observer = new PostgresRecorder(recorder, tally);
  // As the relay frames them: a Terminate watch, then the recorder; the result tally, a ReadyForQuery tracker, then the recorder.
  const fromClient = new FrameStream([watch(Frontend.Terminate), observer.clientStage]);
  const fromServer = new FrameStream([tally, watch(Backend.ReadyForQuery), observer.serverStage]);
  return timeBursts(log, () => {
    fromClient.push(chunks.client);
    fromServer.push(chunks.server);
  });
}

async function unrecorded(log: AuditLog, chunks: Chunks): Promise<number> {
  const fromClient = new FrameStream([watch(Frontend.Terminate)]);
  const fromServer = new FrameStream([new ResultTally(new SessionActivity()), watch(Backend.ReadyForQuery)]);
  return timeBursts(log, () => {
    fromClient.push(chunks.client);
    fromServer.push(chunks.server);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-recording-bench-'));
  const log = await AuditLog.open(join(dir, 'audit.db'), createLogger('silent'));
  try {
    const recorder = log.startSession(benchSessionHeader('bench'), true);
    for (const mode of ['simple', 'extended'] as const) {
      const chunks = ROUND_TRIP[mode];
      await recorded(log, recorder, chunks); // warm-up: optimised code, a steady writer
      const withRecording = await recorded(log, recorder, chunks);
      const without = await unrecorded(log, chunks);
      process.stdout.write(
        `recording on the relay thread, ${mode}: ${withRecording.toFixed(0)} ns per round trip recorded, ${without.toFixed(0)} ns not recorded (+${(withRecording - without).toFixed(0)} ns)\n`,
      );
    }
    await log.flushed();
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
