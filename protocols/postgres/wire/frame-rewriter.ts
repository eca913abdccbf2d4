import { FrameHeaders, HEADER_LENGTH as HEADER } from './frame-headers.js';
import type { HoldAccount } from './frame-scanner.js';
import { ProtocolError } from './protocol-error.js';

/** A transform's answer that it cannot judge the frame yet: the rewriter stops there until `resume`. */
export const PENDING: unique symbol = Symbol('pending');

/**
 * Returns a replacement for a whole frame of interest, undefined to keep it as it is, or PENDING
 * to decide later. `frame` includes its header and is only valid during the call.
 */
export type FrameTransform = (code: number, frame: Buffer) => Buffer | undefined | typeof PENDING;

export interface FrameRewriterHooks {
  /** Sees every frame's type at its header, in stream order (before the frame is judged or passed). */
  readonly observe?: (code: number) => void;
  /**
   * A frame of interest longer than the limit: its replacement, sent at once while the frame's own
   * bytes are dropped unread. Without it, such a frame is a protocol error.
   */
  readonly oversize?: (code: number, length: number) => Buffer;
  /** Told of each frame held until complete, from its header to its end. */
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
  /** A frame whose transform answered PENDING (owned: copied if it was a view), and the input after it, unread. */
  private pendingFrame: Buffer | undefined;
  private afterPending: Buffer | undefined;

  constructor(
    private readonly interest: (code: number) => boolean,
    private readonly transform: FrameTransform,
    private readonly maxHeld: number = 1 << 30,
    private readonly hooks: FrameRewriterHooks = {},
  ) {}

  /** The bytes to forward for `chunk`, in order (views of it where nothing changed). */
  process(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let runStart = 0;
    let p = 0;
    const flushRun = (end: number): void => {
      if (end > runStart) out.push(chunk.subarray(runStart, end));
    };
    while (p < chunk.length) {
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
          if (replacement === PENDING) return this.stopAt(frame, chunk.subarray(p), out);
          out.push(replacement ?? frame);
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
          this.passRemaining = length + 1;
          continue;
        }
        if (this.isOversize(length)) {
          flushRun(p);
          out.push(this.replaceOversize(code, length));
          p += HEADER;
          runStart = p;
          continue;
        }
        if (p + length + 1 <= chunk.length) {
          const frame = chunk.subarray(p, p + length + 1);
          const replacement = this.transform(code, frame);
          if (replacement === PENDING) {
            flushRun(p);
            return this.stopAt(Buffer.from(frame), chunk.subarray(p + length + 1), out);
          }
          if (replacement !== undefined) {
            flushRun(p);
            out.push(replacement);
            runStart = p + length + 1;
          }
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
      const header = headers.lastHeader;
      this.hooks.observe?.(code);
      if (this.interest(code) && this.isOversize(length)) out.push(this.replaceOversize(code, length));
      else if (this.interest(code) && length === 4) {
        const frame = Buffer.from(header);
        const replacement = this.transform(code, frame);
        if (replacement === PENDING) return this.stopAt(frame, chunk.subarray(p), out);
        out.push(replacement ?? frame);
      } else if (this.interest(code)) this.hold(code, length, header);
      else {
        out.push(Buffer.from(header));
        this.passRemaining = length - 4;
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
   * followed by what the input after it yields — which may stop at another pending frame.
   */
  resume(replacement: Buffer | undefined): Buffer[] {
    const frame = this.pendingFrame;
    const rest = this.afterPending;
    this.pendingFrame = undefined;
    this.afterPending = undefined;
    if (frame === undefined) return [];
    const out = [replacement ?? frame];
    if (rest !== undefined && rest.length > 0) out.push(...this.process(rest));
    return out;
  }

  private stopAt(frame: Buffer, rest: Buffer, out: Buffer[]): Buffer[] {
    this.pendingFrame = frame;
    // The input may lie in a buffer its reader reuses: what is kept for later is copied.
    this.afterPending = rest.length > 0 ? Buffer.from(rest) : undefined;
    return out;
  }

  /** A frame of interest is being held until it is complete. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** The stream ends mid-frame: give back what the frame being held took. */
  abandon(): void {
    if (this.held === undefined) return;
    this.hooks.account?.release(this.held.length);
    this.held = undefined;
  }

  private isOversize(length: number): boolean {
    return this.hooks.oversize !== undefined && length + 1 > this.maxHeld;
  }

  /** Emits the oversize frame's replacement and drops its body (the header is already consumed). */
  private replaceOversize(code: number, length: number): Buffer {
    this.dropRemaining = length - 4;
    return (this.hooks.oversize ?? (() => Buffer.alloc(0)))(code, length);
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
