import type { SessionRecorder } from '../../../src/audit/session-recorder.js';
import { Backend, Frontend } from '../wire/codes.js';
import { interestIn, LENGTH_ONLY, WHOLE } from '../wire/frame-scanner.js';
import { RAW_FRAMES_KIND, RawFrameBatch } from './raw-frames.js';
import type { RelayObserver } from './relay-observer.js';

/** Every client frame: the known ones whole, any other (and CopyData unless `full`) by length. */
function everyClientFrame(withCopyData: boolean): Uint8Array {
  const table = new Uint8Array(256).fill(LENGTH_ONLY);
  for (const code of Object.values(Frontend)) table[code] = WHOLE;
  // A PasswordMessage after login is never stored, whatever it holds.
  table[Frontend.PasswordMessage] = LENGTH_ONLY;
  if (!withCopyData) table[Frontend.CopyData] = LENGTH_ONLY;
  return table;
}
const EVERY_CLIENT_FRAME = everyClientFrame(false);
const EVERY_CLIENT_FRAME_WITH_COPY = everyClientFrame(true);
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
const SERVER_OUTCOMES = interestIn(OUTCOMES);
const SERVER_OUTCOMES_AND_CONTENT = interestIn([...OUTCOMES, Backend.DataRow, Backend.CopyData]);

/**
 * Records one Postgres session for the audit log: every client frame after login and the server's
 * outcome of each statement (result rows and COPY data too with `record: full`). Frames are kept
 * as they came, one event per chunk that carried them, and decoded only when the log is read, so
 * recording costs the relay one copy into the session's pending segment and no parsing.
 */
export class PostgresRecorder implements RelayObserver {
  readonly clientInterest: Uint8Array;
  readonly upstreamInterest: Uint8Array;
  private readonly fromClient = new RawFrameBatch();
  private readonly fromServer = new RawFrameBatch();

  constructor(private readonly recorder: SessionRecorder) {
    const full = recorder.recordsContent;
    this.clientInterest = full ? EVERY_CLIENT_FRAME_WITH_COPY : EVERY_CLIENT_FRAME;
    this.upstreamInterest = full ? SERVER_OUTCOMES_AND_CONTENT : SERVER_OUTCOMES;
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

  onClientFrame(code: number, length: number, bytes: Buffer | undefined, start: number, end: number): void {
    if (bytes === undefined) this.fromClient.addElided(code, length);
    else this.fromClient.add(bytes, start, end);
  }

  onUpstreamFrame(code: number, _length: number, bytes: Buffer | undefined, start: number, end: number): void {
    if (bytes === undefined) return;
    this.fromServer.add(bytes, start, end);
    if (code === Backend.CommandComplete || code === Backend.EmptyQueryResponse || code === Backend.PortalSuspended) {
      this.fromServer.statements += 1;
    } else if (code === Backend.ErrorResponse) {
      this.fromServer.statements += 1;
      this.fromServer.errors += 1;
    }
  }

  onClientChunk(): void {
    if (this.fromClient.isEmpty) return;
    this.recorder.recordRaw('client', RAW_FRAMES_KIND, 0, 0, this.fromClient);
    this.fromClient.clear();
  }

  onUpstreamChunk(): void {
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
