import type { SessionRecorder } from '../../../src/audit/session-recorder.js';
import { Backend, Frontend } from '../wire/codes.js';
import { PASS, SEE, type FrameStage, type HeaderAction } from '../wire/frame-stage.js';
import { RAW_FRAMES_KIND, RawFrameBatch } from './raw-frames.js';
import type { RelayObserver } from './relay-observer.js';
import type { ResultTally } from './result-tally.js';

/** Every client frame is heard of; those marked here are kept whole, any other only by its type and length. */
function keptClientFrames(withCopyData: boolean): Uint8Array {
  const table = new Uint8Array(256);
  for (const code of Object.values(Frontend)) table[code] = 1;
  // A PasswordMessage after login is never stored, whatever it holds.
  table[Frontend.PasswordMessage] = 0;
  if (!withCopyData) table[Frontend.CopyData] = 0;
  return table;
}
const EVERY_FRAME = new Uint8Array(256).fill(1);
const KEPT_CLIENT_FRAMES = keptClientFrames(false);
const KEPT_CLIENT_FRAMES_WITH_COPY = keptClientFrames(true);
const OUTCOMES = [
  Backend.CommandComplete,
  Backend.ErrorResponse,
  Backend.NoticeResponse,
  Backend.EmptyQueryResponse,
  Backend.PortalSuspended,
  Backend.ReadyForQuery,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
];
function interestIn(codes: readonly number[]): Uint8Array {
  const table = new Uint8Array(256);
  for (const code of codes) table[code] = 1;
  return table;
}
const SERVER_OUTCOMES = interestIn(OUTCOMES);
const SERVER_OUTCOMES_AND_CONTENT = interestIn([...OUTCOMES, Backend.DataRow, Backend.CopyData]);

/**
 * Records one Postgres session for the audit log: every client frame after login and the server's
 * outcome of each statement with what it sent the client (result rows and COPY data too with
 * `record: full`). Frames are kept
 * as they came, one event per chunk that carried them, and decoded only when the log is read, so
 * recording costs the relay one copy into the session's pending segment and no parsing. It is the
 * last stage of both frame streams, so it records what went on (a gateway replacement included).
 */
export class PostgresRecorder implements RelayObserver {
  readonly clientStage: FrameStage;
  readonly serverStage: FrameStage;
  private readonly fromClient = new RawFrameBatch();
  private readonly fromServer = new RawFrameBatch();

  constructor(
    private readonly recorder: SessionRecorder,
    /** Counts what each statement sent the client; a stage before this one's, so its `last` is the outcome's. */
    private readonly tally: ResultTally,
  ) {
    const full = recorder.recordsContent;
    const kept = full ? KEPT_CLIENT_FRAMES_WITH_COPY : KEPT_CLIENT_FRAMES;
    this.clientStage = {
      interest: EVERY_FRAME,
      header: (code, length) => this.clientHeader(kept, code, length),
      see: (_code, bytes, start, end) => this.fromClient.add(bytes, start, end),
      chunkEnd: () => this.onClientChunk(),
    };
    this.serverStage = {
      interest: full ? SERVER_OUTCOMES_AND_CONTENT : SERVER_OUTCOMES,
      header: () => SEE,
      see: (code, bytes, start, end) => this.onServerFrame(code, bytes, start, end),
      chunkEnd: () => this.onServerChunk(),
    };
  }

  get congested(): boolean {
    return this.recorder.congested;
  }

  whenDrained(callback: () => void): void {
    this.recorder.whenDrained(callback);
  }

  get writeAhead(): boolean {
    return this.recorder.writeAhead;
  }

  afterDurable(callback: () => void): void {
    this.recorder.afterDurable(callback);
  }

  private clientHeader(kept: Uint8Array, code: number, length: number): HeaderAction {
    if (kept[code] !== 0) return SEE;
    this.fromClient.addElided(code, length);
    return PASS;
  }

  private onServerFrame(code: number, bytes: Buffer, start: number, end: number): void {
    const batch = this.fromServer;
    batch.add(bytes, start, end);
    if (code === Backend.CommandComplete || code === Backend.EmptyQueryResponse || code === Backend.PortalSuspended) {
      batch.statements += 1;
      batch.addTally(this.tally.last);
    } else if (code === Backend.ErrorResponse) {
      batch.statements += 1;
      batch.errors += 1;
      batch.addTally(this.tally.last);
    }
  }

  private onClientChunk(): void {
    if (this.fromClient.isEmpty) return;
    this.recorder.recordRaw('client', RAW_FRAMES_KIND, 0, 0, this.fromClient);
    this.fromClient.clear();
  }

  private onServerChunk(): void {
    if (this.fromServer.isEmpty) return;
    const { statements, errors } = this.fromServer;
    this.recorder.recordRaw('server', RAW_FRAMES_KIND, statements, errors, this.fromServer);
    this.fromServer.clear();
  }

  /** A CancelRequest for this session (the keys are never recorded). */
  onCancelRequest(): void {
    this.recorder.record('client', 'CancelRequest', {});
  }
}
