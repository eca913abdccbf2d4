import type { AuditEvent, Direction, SessionEnd } from './audit-event.js';
import { encodeEventLine, nowMicros } from './audit-event.js';
import type { AuditLog } from './audit-log.js';

/** How much of a session is kept: `false` the session row only, `true` every frame, `'full'` result rows and COPY data too. */
export type RecordMode = boolean | 'full';

/** One session's handle on the audit log, given to the protocol that relays it. */
export class SessionRecorder {
  constructor(
    private readonly log: AuditLog,
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

  record(direction: Direction, kind: string, data: AuditEvent['data'], outcome?: AuditEvent['outcome']): void {
    const event: AuditEvent = outcome === undefined ? { atUs: nowMicros(), direction, kind, data } : { atUs: nowMicros(), direction, kind, data, outcome };
    this.log.appendEvent(this.sessionId, encodeEventLine(event));
  }

  /**
   * An event whose data the protocol has already encoded (raw frames, base64), with how many
   * statements it completes and how many of those failed.
   */
  recordRaw(direction: Direction, kind: string, statements: number, errors: number, encoded: string): void {
    this.log.appendEvent(this.sessionId, `${nowMicros()}\t${direction}\t${kind}\t${statements === 0 ? '' : `${statements}:${errors}`}\t${encoded}`);
  }

  end(end: Omit<SessionEnd, 'endedAtUs'>): void {
    this.log.endSession(this.sessionId, { ...end, endedAtUs: nowMicros() });
  }
}
