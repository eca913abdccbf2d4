import { checkMessageLength, FrameHeaders, frameBuffer, HEADER_LENGTH as HEADER } from './frame-headers.js';
import { LENGTH_ONLY, WHOLE, type FrameHandler, type HoldAccount } from './frame-scanner.js';
import { ProtocolError } from './protocol-error.js';
import { InvariantError } from '../../../src/idgate-error.js';

/** A transform's answer that it cannot judge the frame yet: the rewriter stops there until `resume`. */
export const PENDING: unique symbol = Symbol('pending');

/**
 * Returns a replacement for a whole frame of interest, undefined to keep it as it is, or PENDING
 * to decide later. `frame` includes its header and is only valid during the call.
 */
export type FrameTransform = (code: number, frame: Buffer) => Buffer | undefined | typeof PENDING;

/**
 * Who else reads the frames that go out, as the relay's frame scanner would have read them (the
 * audit recorder, the relay's Terminate): told of each outgoing frame its interest table asks
 * for — the frame as forwarded, a replacement included — so the stream is framed once.
 */
export interface OutgoingFrames {
  /** interest[code]: 0 nothing, WHOLE the complete frame, LENGTH_ONLY its length at its header. */
  readonly interest: Uint8Array;
  readonly onFrame: FrameHandler;
  /** The largest frame passed through (`listen.max-message-bytes`): a longer one is refused at its header. */
  readonly maxFrame: number;
}

export interface FrameRewriterHooks {
  /** Sees every frame's type at its header, in stream order (before the frame is judged or passed). */
  readonly observe?: (code: number) => void;
  /**
   * A frame of interest longer than the limit: its replacement, sent at once while the frame's own
   * bytes are dropped unread. Without it, such a frame is a protocol error.
   */
  readonly oversize?: (code: number, length: number) => Buffer;
  /**
   * Told of each frame held until complete: frames of interest are counted whatever the total
   * (a judged statement, bounded by the limit); outgoing frames assembled for their reader only
   * when they fit, else the rewriter stops at that frame's body until `retryBlocked`.
   */
  readonly account?: HoldAccount;
}

/**
 * Passes a byte stream through and lets a transform replace whole frames of chosen types. Frames
 * of interest are held until complete (so nothing of one is forwarded before it is judged); all
 * other bytes pass as views of the input, without copying. Used only where the gateway must be
 * able to change what flows (scoped sessions); plain relaying never pays for it.
 */
export class FrameRewriter {
  private readonly headers = new FrameHeaders();
  private passRemaining = 0;
  private dropRemaining = 0;
  private held: Buffer | undefined;
  private heldFill = 0;
  /** An outgoing frame passed through as views and copied for its reader, until complete. */
  private collecting: Buffer | undefined;
  private collected = 0;
  /** A frame whose transform answered PENDING (owned: copied if it was a view). */
  private pendingFrame: Buffer | undefined;
  /** An outgoing frame to assemble that the account could not take yet: stopped at its body. */
  private blocked: { readonly code: number; readonly length: number } | undefined;
  /** The input after the frame the rewriter stopped at (pending or blocked), unread. */
  private afterStop: Buffer | undefined;
  private outgoing: OutgoingFrames | undefined;

  constructor(
    private readonly interest: (code: number) => boolean,
    private readonly transform: FrameTransform,
    private readonly maxHeld: number = 1 << 30,
    private readonly hooks: FrameRewriterHooks = {},
  ) {}

  /** Who reads the frames that go out (set before the first byte is processed). */
  setOutgoing(outgoing: OutgoingFrames): void {
    this.outgoing = outgoing;
  }

  /** The bytes to forward for `chunk`, in order (views of it where nothing changed). */
  process(chunk: Buffer): Buffer[] {
    return this.read(chunk, false);
  }

  /**
   * Like `process`, but only as far as what goes out reaches a message boundary; the input after
   * that is not read (the stream is ending: the gateway adds a message of its own there).
   */
  processUntilBoundary(chunk: Buffer): Buffer[] {
    return this.read(chunk, true);
  }

  private read(chunk: Buffer, untilBoundary: boolean): Buffer[] {
    const out: Buffer[] = [];
    let runStart = 0;
    let p = 0;
    const flushRun = (end: number): void => {
      if (end > runStart) out.push(chunk.subarray(runStart, end));
    };
    /** Stops: forwards the run up to `flushTo`, and keeps the input from `restFrom` unread. */
    const stop = (flushTo: number, restFrom: number): Buffer[] => {
      flushRun(flushTo);
      // The input may lie in a buffer its reader reuses: what is kept for later is copied.
      this.afterStop = restFrom < chunk.length ? Buffer.from(chunk.subarray(restFrom)) : undefined;
      return out;
    };
    while (p < chunk.length) {
      if (untilBoundary && this.outputAtBoundary) break;
      if (this.held !== undefined) {
        const step = Math.min(this.held.length - this.heldFill, chunk.length - p);
        chunk.copy(this.held, this.heldFill, p, p + step);
        this.heldFill += step;
        p += step;
        runStart = p;
        if (this.heldFill === this.held.length) {
          const frame = this.held;
          this.held = undefined;
          this.hooks.account?.release(frame.length);
          const replacement = this.transform(frame[0] ?? 0, frame);
          if (replacement === PENDING) {
            this.pendingFrame = frame;
            return stop(p, p);
          }
          out.push(this.sent(replacement ?? frame));
        }
        continue;
      }
      if (this.collecting !== undefined) {
        // Passed through as part of the run, and copied for the outgoing frames' reader.
        const frame = this.collecting;
        const step = Math.min(frame.length - this.collected, chunk.length - p);
        chunk.copy(frame, this.collected, p, p + step);
        this.collected += step;
        p += step;
        if (this.collected === frame.length) {
          this.collecting = undefined;
          this.hooks.account?.release(frame.length);
          this.outgoing?.onFrame(frame[0] ?? 0, frame.length - 1, frame, 0, frame.length);
        }
        continue;
      }
      if (this.passRemaining > 0) {
        const step = Math.min(this.passRemaining, chunk.length - p);
        this.passRemaining -= step;
        p += step;
        continue;
      }
      if (this.dropRemaining > 0) {
        const step = Math.min(this.dropRemaining, chunk.length - p);
        this.dropRemaining -= step;
        p += step;
        runStart = p;
        continue;
      }
      const headers = this.headers;
      if (headers.wholeAt(chunk, p)) {
        headers.readWhole(chunk, p);
        const { code, length } = headers;
        this.hooks.observe?.(code);
        if (!this.interest(code)) {
          const passing = this.passOutgoing(code, length, chunk, p);
          if (passing === 'blocked') {
            this.blocked = { code, length };
            return stop(p + HEADER, p + HEADER);
          }
          if (passing === 'collect') p += HEADER;
          else this.passRemaining = length + 1;
          continue;
        }
        if (this.isOversize(length)) {
          flushRun(p);
          out.push(this.replaceOversize(code, length));
          p += HEADER;
          runStart = p;
          continue;
        }
        this.checkFrameLimit(length);
        if (p + length + 1 <= chunk.length) {
          const frame = chunk.subarray(p, p + length + 1);
          const replacement = this.transform(code, frame);
          if (replacement === PENDING) {
            this.pendingFrame = Buffer.from(frame);
            return stop(p, p + length + 1);
          }
          if (replacement !== undefined) {
            flushRun(p);
            out.push(this.sent(replacement));
            runStart = p + length + 1;
          } else this.sent(frame);
          p += length + 1;
          continue;
        }
        flushRun(p);
        this.hold(code, length, chunk.subarray(p, p + HEADER));
        p += HEADER;
        runStart = p;
        continue;
      }
      // A header split across chunks: its bytes are held until the type is known.
      flushRun(p);
      p = headers.readSplit(chunk, p);
      runStart = p;
      if (!headers.atBoundary) continue;
      const { code, length } = headers;
      const header = Buffer.from(headers.lastHeader);
      this.hooks.observe?.(code);
      if (this.interest(code) && this.isOversize(length)) out.push(this.replaceOversize(code, length));
      else if (this.interest(code)) {
        this.checkFrameLimit(length);
        if (length === 4) {
          const replacement = this.transform(code, header);
          if (replacement === PENDING) {
            this.pendingFrame = header;
            return stop(p, p);
          }
          out.push(this.sent(replacement ?? header));
        } else this.hold(code, length, header);
      } else {
        out.push(header);
        const passing = this.passOutgoing(code, length, header, 0);
        if (passing === 'blocked') {
          this.blocked = { code, length };
          return stop(p, p);
        }
        if (passing === 'pass') this.passRemaining = length - 4;
      }
    }
    flushRun(p);
    return out;
  }

  /** A frame waits for its transform's late answer: give no more input until `resume`. */
  get pending(): boolean {
    return this.pendingFrame !== undefined;
  }

  /**
   * The late answer for the pending frame (a replacement, or undefined to keep it): returns it
   * followed by what the input after it yields — which may stop again.
   */
  resume(replacement: Buffer | undefined): Buffer[] {
    const frame = this.pendingFrame;
    if (frame === undefined) return [];
    this.pendingFrame = undefined;
    return [this.sent(replacement ?? frame), ...this.processRest()];
  }

  /** An outgoing frame to assemble waits for the account (`retryBlocked`). */
  get isBlocked(): boolean {
    return this.blocked !== undefined;
  }

  /**
   * Tries again to hold the frame the rewriter stopped at: undefined when the account still cannot
   * take it, else what the input after it yields (which may stop again).
   */
  retryBlocked(): Buffer[] | undefined {
    const b = this.blocked;
    if (b === undefined) return [];
    if (this.hooks.account !== undefined && !this.hooks.account.tryReserve(b.length + 1)) return undefined;
    this.blocked = undefined;
    this.beginCollecting(b.code, b.length);
    return this.processRest();
  }

  /** A frame of interest is being held until it is complete. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** What has gone out ends at a message boundary (nothing of a message is forwarded in part). */
  get outputAtBoundary(): boolean {
    return this.collecting === undefined && this.passRemaining === 0 && this.blocked === undefined;
  }

  /** No message of the input is read in part. */
  get inputAtBoundary(): boolean {
    return this.outputAtBoundary && this.headers.atBoundary && this.held === undefined && this.dropRemaining === 0;
  }

  /** The stream ends mid-frame: give back what a frame being held or assembled took. */
  abandon(): void {
    if (this.held !== undefined) this.hooks.account?.release(this.held.length);
    if (this.collecting !== undefined) this.hooks.account?.release(this.collecting.length);
    this.held = undefined;
    this.collecting = undefined;
  }

  private processRest(): Buffer[] {
    const rest = this.afterStop;
    this.afterStop = undefined;
    return rest === undefined ? [] : this.process(rest);
  }

  /**
   * A frame passed through unjudged, its header read: its reader is told of it. `pass` it by
   * length; `collect` it (its body is copied for the reader as it passes); or `blocked` when it
   * must be assembled and the account cannot take it now.
   */
  private passOutgoing(code: number, length: number, bytes: Buffer, start: number): 'pass' | 'collect' | 'blocked' {
    const outgoing = this.outgoing;
    if (outgoing === undefined) return 'pass';
    this.checkFrameLimit(length);
    const interest = outgoing.interest[code];
    if (interest === LENGTH_ONLY) outgoing.onFrame(code, length, undefined, 0, 0);
    if (interest !== WHOLE) return 'pass';
    if (length === 4 || start + length + 1 <= bytes.length) {
      outgoing.onFrame(code, length, bytes, start, start + length + 1);
      return 'pass';
    }
    if (this.hooks.account !== undefined && !this.hooks.account.tryReserve(length + 1)) return 'blocked';
    this.beginCollecting(code, length);
    return 'collect';
  }

  private beginCollecting(code: number, length: number): void {
    this.collecting = frameBuffer(code, length);
    this.collected = HEADER;
  }

  /** A frame that goes out (judged, replaced, or a gateway-made replacement): its reader is told of each frame in it. */
  private sent(frames: Buffer): Buffer {
    const outgoing = this.outgoing;
    if (outgoing === undefined) return frames;
    for (let p = 0; p + HEADER <= frames.length;) {
      const code = frames[p] ?? 0;
      const length = frames.readInt32BE(p + 1);
      // Gateway-made frames: a bad length here is a bug, and must not loop or misreport.
      if (length < 4 || p + length + 1 > frames.length) throw new InvariantError(`a frame the gateway sends has length ${length}`);
      const interest = outgoing.interest[code];
      if (interest === WHOLE) outgoing.onFrame(code, length, frames, p, p + length + 1);
      else if (interest === LENGTH_ONLY) outgoing.onFrame(code, length, undefined, 0, 0);
      p += length + 1;
    }
    return frames;
  }

  /** `listen.max-message-bytes`, for a frame this rewriter does not replace as oversize. */
  private checkFrameLimit(length: number): void {
    if (this.outgoing !== undefined) checkMessageLength(length, this.outgoing.maxFrame - 1, 4, 'listen.max-message-bytes');
  }

  private isOversize(length: number): boolean {
    return this.hooks.oversize !== undefined && length + 1 > this.maxHeld;
  }

  /** Emits the oversize frame's replacement and drops its body (the header is already consumed). */
  private replaceOversize(code: number, length: number): Buffer {
    this.dropRemaining = length - 4;
    return this.sent((this.hooks.oversize ?? (() => Buffer.alloc(0)))(code, length));
  }

  private hold(code: number, length: number, header: Buffer): void {
    if (length + 1 > this.maxHeld) throw new ProtocolError('frame-too-long', `message of ${length} bytes exceeds the limit`);
    this.held = Buffer.allocUnsafe(length + 1);
    this.hooks.account?.reserve(this.held.length);
    header.copy(this.held, 0, 0, HEADER);
    this.held[0] = code;
    this.heldFill = HEADER;
  }
}
