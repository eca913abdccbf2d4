import { Backend, Frontend } from './codes.js';
import { ProtocolError } from './protocol-error.js';

interface Pending<T> {
  readonly code: number;
  readonly tag: T | undefined;
}

/** Messages whose error starts the server's skip to the next Sync (the extended protocol). */
const EXTENDED = new Set<number>([Frontend.Parse, Frontend.Bind, Frontend.Close, Frontend.Describe, Frontend.Execute]);
/** Messages that end with ReadyForQuery. */
const ENDS_AT_READY = new Set<number>([Frontend.Query, Frontend.FunctionCall, Frontend.Sync]);
/** Messages whose success the audit log does not keep (ParseComplete, BindComplete, CloseComplete, a Describe's answer). */
const ACKNOWLEDGED_SILENTLY = new Set<number>([Frontend.Parse, Frontend.Bind, Frontend.Close, Frontend.Describe]);
/** Backend messages that may come at any time and answer nothing. */
const ASYNC = new Set<number>([Backend.NoticeResponse, Backend.NotificationResponse, Backend.ParameterStatus]);

/**
 * Follows which frontend message each backend reply answers, by running the server's own rules
 * over the two streams: Parse, Bind, Close, Describe and Execute each end with their completion
 * message, Query, FunctionCall and Sync with ReadyForQuery; an error in an extended-protocol
 * message makes the server discard everything up to the next Sync (a Query included, unanswered);
 * during COPY FROM STDIN the server consumes Flush and Sync, and takes any other message as the
 * end of the copy. So an ErrorResponse is attributed to the message that caused it by position,
 * never by its text — correct in any server language, and impossible for a client to forge.
 * A reply that fits no pending message means the model and the server disagree: the caller ends
 * the session rather than guess.
 *
 * The same model reads a recorded session back (`buildTranscript`), where the success replies of
 * Parse, Bind, Close and Describe were not kept: there (`acknowledgementsImplied`) a later reply
 * that only fits past such messages is proof they succeeded, since every error is kept.
 */
export class ReplyTracker<T> {
  private readonly pending: Pending<T>[] = [];
  private head = 0;
  private skipping = false;
  private copyIn = false;
  private readonly acknowledgementsImplied: boolean;
  private readonly dropped: ((tag: T) => void) | undefined;

  constructor(
    options: {
      /** The replies are a recording's: Parse, Bind, Close and Describe succeeded unless an error says otherwise. */
      readonly acknowledgementsImplied?: boolean;
      /** Told of each tagged message the server will never answer (skipped to Sync after an error, or consumed by COPY). */
      readonly dropped?: (tag: T) => void;
    } = {},
  ) {
    this.acknowledgementsImplied = options.acknowledgementsImplied ?? false;
    this.dropped = options.dropped;
  }

  /** A frontend message was forwarded upstream (Flush, CopyData and Terminate need not be reported). */
  sent(code: number, tag?: T): void {
    if (code === Frontend.Flush || code === Frontend.CopyData || code === Frontend.Terminate) return;
    // Untagged messages (nearly all) share one entry per type: nothing is allocated per forwarded frame.
    this.pending.push(tag === undefined ? untagged<T>(code) : { code, tag });
  }

  /** Nothing forwarded is still unanswered. */
  get idle(): boolean {
    this.settle();
    return this.head >= this.pending.length;
  }

  /** The tag of the oldest message still unanswered (undefined if it had none, or if none is). */
  get current(): T | undefined {
    this.settle();
    return this.pending[this.head]?.tag;
  }

  /**
   * A backend message arrived: returns the tag of the message it answers (undefined if that
   * message had none, or for a message that answers nothing); `sqlstate` is an error's code.
   */
  received(code: number, sqlstate?: string): T | undefined {
    if (ASYNC.has(code)) return undefined;
    this.settle();
    if (code === Backend.ErrorResponse) return this.error(this.pending[this.head], sqlstate);
    const current = this.answered(code);
    switch (code) {
      case Backend.CopyInResponse:
        this.copyIn = true;
        break;
      case Backend.CommandComplete:
        if (this.copyIn) this.endCopy(false, undefined);
        if (current.code === Frontend.Execute) this.shift();
        break;
      case 0x31: // ParseComplete
      case 0x32: // BindComplete
      case 0x33: // CloseComplete
      case 0x6e: // NoData
      case Backend.PortalSuspended:
        this.shift();
        break;
      case 0x54: // RowDescription: ends a Describe, is part of a Query's result
      case Backend.EmptyQueryResponse: // ends an Execute, is part of a Query's result
        if (current.code !== Frontend.Query) this.shift();
        break;
      case Backend.ReadyForQuery:
        this.skipping = false;
        this.shift();
        break;
    }
    return current.tag;
  }

  /** The pending message `code` answers (past silently acknowledged ones, for a recording); out of sync if none fits. */
  private answered(code: number): Pending<T> {
    for (;;) {
      const current = this.pending[this.head];
      if (current === undefined) throw outOfSync(code, undefined);
      if (this.fits(code, current.code)) return current;
      if (!this.acknowledgementsImplied || !ACKNOWLEDGED_SILENTLY.has(current.code)) throw outOfSync(code, current.code);
      this.shift();
      this.settle();
    }
  }

  private error(current: Pending<T> | undefined, sqlstate: string | undefined): T | undefined {
    // A FATAL with nothing pending (an administrator's shutdown) answers nothing.
    if (current === undefined) return undefined;
    if (this.copyIn) this.endCopy(true, sqlstate);
    if (EXTENDED.has(current.code)) {
      this.shift();
      this.skipping = true;
    }
    return current.tag;
  }

  /** Which replies may answer which pending message. */
  private fits(reply: number, pending: number): boolean {
    switch (reply) {
      case 0x31:
        return pending === Frontend.Parse;
      case 0x32:
        return pending === Frontend.Bind;
      case 0x33:
        return pending === Frontend.Close;
      case 0x74: // ParameterDescription
      case 0x6e:
        return pending === Frontend.Describe;
      case 0x54:
        return pending === Frontend.Describe || pending === Frontend.Query;
      case Backend.DataRow:
      case Backend.CommandComplete:
      case Backend.EmptyQueryResponse:
      case Backend.CopyInResponse:
      case Backend.CopyOutResponse:
      case Backend.CopyData:
      case 0x63: // CopyDone from the server, the end of COPY TO STDOUT
        return pending === Frontend.Execute || pending === Frontend.Query;
      case Backend.PortalSuspended:
        return pending === Frontend.Execute;
      case 0x56: // FunctionCallResponse
        return pending === Frontend.FunctionCall;
      case Backend.ReadyForQuery:
        return ENDS_AT_READY.has(pending);
      default:
        return false;
    }
  }

  /** Drops what the server will not answer: anything but Sync while it skips, and copy messages outside COPY. */
  private settle(): void {
    for (;;) {
      const current = this.pending[this.head];
      if (current === undefined) return;
      const copyMessage = current.code === Frontend.CopyDone || current.code === Frontend.CopyFail;
      if (!((this.skipping && current.code !== Frontend.Sync) || (copyMessage && !this.copyIn))) return;
      this.shift();
      if (current.tag !== undefined) this.dropped?.(current.tag);
    }
  }

  /**
   * COPY FROM STDIN ended. The server consumed the Syncs sent with the COPY (libpq sends one right
   * after Execute) and the message that ended it: CopyDone, CopyFail, or — refused as a protocol
   * violation, 08P01 — any other message.
   */
  private endCopy(failed: boolean, sqlstate: string | undefined): void {
    this.copyIn = false;
    let i = this.head + 1;
    while (this.pending[i]?.code === Frontend.Sync) i += 1;
    const ender = this.pending[i];
    const consumed =
      ender !== undefined && (ender.code === Frontend.CopyDone || ender.code === Frontend.CopyFail || (failed && sqlstate === '08P01'));
    const end = consumed ? i + 1 : i;
    this.pending.splice(this.head + 1, end - this.head - 1);
  }

  private shift(): void {
    this.head += 1;
    // Compact now and then instead of shifting an array on every reply.
    if (this.head > 64 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

const UNTAGGED: Pending<never>[] = Array.from({ length: 256 }, (_, code) => Object.freeze({ code, tag: undefined }));

function untagged<T>(code: number): Pending<T> {
  return UNTAGGED[code & 0xff] ?? { code, tag: undefined };
}

function outOfSync(reply: number, pending: number | undefined): ProtocolError {
  const name = (c: number | undefined): string => (c === undefined ? 'nothing' : `'${String.fromCharCode(c)}'`);
  return new ProtocolError(
    'reply-out-of-sync',
    `the server's reply ${name(reply)} does not answer the pending ${name(pending)}: the gateway lost track of the session`,
  );
}
