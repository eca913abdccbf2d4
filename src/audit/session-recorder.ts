import type { AuditEvent, Direction, SessionEnd } from './audit-event.js';
import { nowMicros } from './audit-event.js';
import { SegmentBuilder, type EventBytes } from './event-segment.js';

/** How much of a session is kept: `false` the session row only, `true` every frame, `'full'` result rows and COPY data too. */
export type RecordMode = boolean | 'full';

/** What a session recorder needs of the audit log (AuditLog implements it). */
export interface RecorderSink {
  readonly congested: boolean;
  readonly writeAhead: boolean;
  whenDrained(callback: () => void): void;
  afterDurable(callback: () => void): void;
  appended(recorder: SessionRecorder, bytes: number): void;
  endSession(sessionId: string, end: SessionEnd): void;
}

/** One session's handle on the audit log, given to the protocol that relays it. */
export class SessionRecorder {
  /** This session's events since the last writer batch (the audit log takes them at each flush). */
  readonly pending = new SegmentBuilder();
  private ended = false;

  constructor(
    private readonly log: RecorderSink,
    readonly sessionId: string,
    readonly mode: RecordMode,
  ) {}

  get recordsFrames(): boolean {
    return this.mode !== false;
  }

  get recordsContent(): boolean {
    return this.mode === 'full';
  }

  /** Too many events are waiting for the writer: the protocol should stop reading the client. */
  get congested(): boolean {
    return this.log.congested;
  }

  whenDrained(callback: () => void): void {
    this.log.whenDrained(callback);
  }

  /** Whether the protocol must hold a client's frames until they are committed (`recordings.durability: write-ahead`). */
  get writeAhead(): boolean {
    return this.mode !== false && this.log.writeAhead;
  }

  /** Calls back once everything this session (and every other) recorded so far is committed. */
  afterDurable(callback: () => void): void {
    this.log.afterDurable(callback);
  }

  /** An event described by the gateway itself (a cancel request, a denied statement): data stored as JSON. */
  record(direction: Direction, kind: string, data: AuditEvent['data'], outcome?: AuditEvent['outcome']): void {
    const statements = outcome === undefined ? 0 : 1;
    const errors = outcome === 'error' ? 1 : 0;
    this.log.appended(this, this.pending.append(nowMicros(), direction, kind, statements, errors, Buffer.from(JSON.stringify(data))));
  }

  /**
   * An event of raw protocol bytes (copied now: they may lie in a buffer the relay reuses), with
   * how many statements it completes and how many of those failed.
   */
  recordRaw(direction: Direction, kind: string, statements: number, errors: number, data: EventBytes | Uint8Array): void {
    this.log.appended(this, this.pending.append(nowMicros(), direction, kind, statements, errors, data));
  }

  end(end: Omit<SessionEnd, 'endedAtUs'>): void {
    this.ended = true;
    this.log.endSession(this.sessionId, { ...end, endedAtUs: nowMicros() });
  }

  /** False once the session ended (its chain is sealed: nothing more may be recorded in it). */
  get isOpen(): boolean {
    return !this.ended;
  }
}
