import type { SessionRecorder } from '../../../src/audit/session-recorder.js';
import { Backend, Frontend } from '../wire/codes.js';
import { interestIn, LENGTH_ONLY, WHOLE } from '../wire/frame-scanner.js';
import { decodeBackendFrame } from './backend-events.js';
import { decodeFrontendFrame, StatementTypes } from './frontend-events.js';
import type { RelayObserver } from './relay-observer.js';

/** Every client frame: the known ones whole, any other (and CopyData unless `full`) by length. */
function everyClientFrame(withCopyData: boolean): Uint8Array {
  const table = new Uint8Array(256).fill(LENGTH_ONLY);
  for (const code of Object.values(Frontend)) table[code] = WHOLE;
  if (!withCopyData) table[Frontend.CopyData] = LENGTH_ONLY;
  return table;
}
const EVERY_CLIENT_FRAME = everyClientFrame(false);
const EVERY_CLIENT_FRAME_WITH_COPY = everyClientFrame(true);
const OUTCOMES = [
  Backend.CommandComplete, Backend.ErrorResponse, Backend.NoticeResponse, Backend.EmptyQueryResponse, Backend.PortalSuspended,
  Backend.ReadyForQuery, Backend.CopyInResponse, Backend.CopyOutResponse,
];
const SERVER_OUTCOMES = interestIn(OUTCOMES);
const SERVER_OUTCOMES_AND_CONTENT = interestIn([...OUTCOMES, Backend.DataRow, Backend.CopyData]);

/**
 * Turns the frames of one Postgres session into audit events: every client frame after login,
 * and the server's outcome of each statement (with result rows and COPY data when the mapping says
 * `record: full`). Frames that do not decode are still recorded, by size, and never stop the relay.
 */
export class PostgresRecorder implements RelayObserver {
  readonly clientInterest: Uint8Array;
  readonly upstreamInterest: Uint8Array;
  private readonly types = new StatementTypes();
  private readonly full: boolean;

  constructor(private readonly recorder: SessionRecorder) {
    this.full = recorder.recordsContent;
    this.clientInterest = this.full ? EVERY_CLIENT_FRAME_WITH_COPY : EVERY_CLIENT_FRAME;
    this.upstreamInterest = this.full ? SERVER_OUTCOMES_AND_CONTENT : SERVER_OUTCOMES;
  }

  get congested(): boolean {
    return this.recorder.congested;
  }

  whenDrained(callback: () => void): void {
    this.recorder.whenDrained(callback);
  }

  onClientFrame(code: number, frame: Buffer | undefined, length: number): void {
    let event;
    try {
      event = decodeFrontendFrame(code, frame, length, this.types, this.full);
    } catch {
      event = { kind: 'Malformed', data: { code: String.fromCharCode(code), bytes: length - 4 } };
    }
    this.recorder.record('client', event.kind, event.data);
  }

  onUpstreamFrame(code: number, frame: Buffer | undefined): void {
    if (frame === undefined) return;
    let event;
    try {
      event = decodeBackendFrame(code, frame);
    } catch {
      event = { kind: 'Malformed', data: { code: String.fromCharCode(code) } };
    }
    if (event !== undefined) this.recorder.record('server', event.kind, event.data, 'outcome' in event ? event.outcome : undefined);
  }

  /** A CancelRequest for this session (the keys are never recorded). */
  onCancelRequest(): void {
    this.recorder.record('client', 'CancelRequest', {});
  }
}
