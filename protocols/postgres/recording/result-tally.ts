import type { SessionActivity } from '../../../src/session/session-activity.js';
import { Backend } from '../wire/codes.js';
import { PASS, SEE, type FrameStage, type HeaderAction } from '../wire/frame-stage.js';

/** What one statement sent the client, as the tally closes it. */
export interface Delivered {
  /** Result rows the client received: DataRows, and the rows of a COPY TO STDOUT. */
  returned: number;
  /** Rows the statement wrote, by its command tag (INSERT, UPDATE, DELETE, MERGE, COPY FROM, CREATE TABLE AS). */
  affected: number;
  /** Every byte sent to the client since the previous statement's outcome, up to and including this one's. */
  bytes: number;
}

const EVERY_FRAME = new Uint8Array(256).fill(1);
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** The largest count kept (48 bits, as the audit log stores it): a server's longer number saturates there. */
export const MAX_COUNT = 2 ** 48 - 1;

/**
 * Counts what left the database, per statement: a stage of the server's frame stream after every
 * stage that may change what goes on (the scope's replies, `max-rows`), so it counts what the
 * client received. Each frame costs one header call and a few additions — nothing is copied or
 * decoded but a CommandComplete's tag. A statement closes at its outcome (CommandComplete,
 * EmptyQueryResponse, PortalSuspended, ErrorResponse); its figures stay in `last` until the next
 * one closes (the recorder reads them there) and add to the session's totals.
 */
export class ResultTally implements FrameStage {
  readonly interest = EVERY_FRAME;
  readonly last: Delivered = { returned: 0, affected: 0, bytes: 0 };
  private rows = 0;
  private copyRows = 0;
  private copyOut = false;
  private bytes = 0;

  constructor(private readonly activity: SessionActivity) {}

  header(code: number, length: number): HeaderAction {
    this.bytes += length + 1;
    switch (code) {
      case Backend.DataRow:
        this.rows += 1;
        return PASS;
      case Backend.CopyData:
        this.copyRows += 1;
        return PASS;
      case Backend.CopyOutResponse:
        this.copyOut = true;
        return PASS;
      case Backend.CommandComplete:
        return SEE;
      case Backend.ErrorResponse:
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended:
        this.close(this.rows + (this.copyOut ? this.copyRows : 0), 0);
        return PASS;
      default:
        return PASS;
    }
  }

  /** A CommandComplete, whole: its tag's count says what was written, or how many COPY rows were sent. */
  see(_code: number, bytes: Buffer, start: number, end: number): void {
    // The tag: from after the header to before its NUL.
    const tagStart = start + 5;
    const tagEnd = end - 1;
    const count = trailingCount(bytes, tagStart, tagEnd);
    let returned = this.rows;
    let affected = 0;
    if (count >= 0) {
      switch (bytes[tagStart]) {
        case 0x49: // INSERT
        case 0x55: // UPDATE
        case 0x44: // DELETE
          affected = count;
          break;
        case 0x4d: // MERGE (not MOVE: nothing is sent or written)
          if (bytes[tagStart + 1] === 0x45) affected = count;
          break;
        case 0x43: // COPY: to the client, the rows it received (a header or trailer frame is not a row); else written
          if (this.copyOut) returned += Math.min(count, this.copyRows);
          else affected = count;
          break;
        case 0x53: // SELECT with no row sent: CREATE TABLE AS or SELECT INTO wrote them
          if (this.rows === 0) affected = count;
          break;
      }
    } else if (this.copyOut) {
      returned += this.copyRows;
    }
    this.close(returned, affected);
  }

  private close(returned: number, affected: number): void {
    const last = this.last;
    last.returned = returned;
    last.affected = affected;
    last.bytes = this.bytes;
    this.activity.rowsReturned += returned;
    this.activity.rowsAffected += affected;
    this.rows = 0;
    this.copyRows = 0;
    this.copyOut = false;
    this.bytes = 0;
  }
}

/** The number a tag ends with (`INSERT 0 5` → 5), or -1 when it ends with none. */
function trailingCount(bytes: Buffer, start: number, end: number): number {
  let p = end;
  while (p > start && (bytes[p - 1] as number) >= DIGIT_0 && (bytes[p - 1] as number) <= DIGIT_9) p -= 1;
  if (p === end || p === start || bytes[p - 1] !== 0x20) return -1;
  let n = 0;
  for (let i = p; i < end; i++) n = Math.min(MAX_COUNT, n * 10 + ((bytes[i] as number) - DIGIT_0));
  return n;
}
