import { FrameHeaders, frameBuffer, HEADER_LENGTH as HEADER } from './frame-headers.js';
import { ProtocolError } from './protocol-error.js';

/**
 * Receives each frame whose type byte was asked for, with its length field. For WHOLE interest the
 * complete frame (5-byte header included) is `bytes[start, end)`: a range of the chunk when it lies
 * whole inside it (no view is made for it: the handler slices only if it must), or of a buffer
 * assembled for it when it straddles chunks. For LENGTH_ONLY interest, at the frame's header,
 * `bytes` is undefined.
 */
export type FrameHandler = (code: number, length: number, bytes: Buffer | undefined, start: number, end: number) => void;

/** Interest levels in an interest table. */
export const WHOLE = 1;
export const LENGTH_ONLY = 2;

/** Told of the bytes a reader holds while it assembles a frame (the gateway's memory budget). */
export interface HoldAccount {
  /** Counts bytes held whatever the total (a small, bounded hold). */
  reserve(bytes: number): void;
  /** Counts them only if they fit now; false: nothing counted, the reader must wait. */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
  /** Calls back once, at the next release (a blocked reader then tries again). */
  whenReleased(callback: () => void): void;
}

/**
 * Follows typed-message boundaries through a byte stream that the relay forwards unchanged.
 * Frames nobody asked for are skipped by length without copying; a frame of interest is handed over
 * as its place in the chunk when it lies whole inside it (nothing allocated), and is assembled only
 * when it straddles chunks. This keeps the relay byte-exact while letting it observe the messages
 * it must decode.
 */
export class FrameScanner {
  private readonly headers: FrameHeaders;
  private skipRemaining = 0;
  private collecting: Buffer | undefined;
  private collected = 0;
  private collectingCode = 0;
  /** A frame to assemble that the account could not take yet: scanning stopped at its body. */
  private blocked: { readonly code: number; readonly length: number } | undefined;

  constructor(
    /** interest[code]: 0 skip, WHOLE hand over the frame, LENGTH_ONLY hand over its length. */
    private readonly interest: Uint8Array,
    private readonly onFrame: FrameHandler,
    /** Largest frame of interest we agree to assemble (all others are only skipped). */
    private readonly maxCollected: number = 1 << 30,
    /** Largest frame at all: a longer one is refused at its header, before any of it is held or passed on. */
    maxFrame: number = Number.MAX_SAFE_INTEGER,
    /** Told of each frame assembled across chunks, from its header to its end. */
    private readonly account?: HoldAccount,
  ) {
    this.headers = new FrameHeaders(maxFrame - 1, 'listen.max-message-bytes');
  }

  /**
   * Like scan, but stops at the body of a frame to assemble that the account cannot hold now, and
   * returns how many bytes it consumed; `retryBlocked` resumes once it can.
   */
  scanUntilBlocked(chunk: Buffer): number {
    let p = 0;
    while (p < chunk.length) {
      p = this.step(chunk, p);
      if (this.blocked !== undefined) return p;
    }
    return p;
  }

  get isBlocked(): boolean {
    return this.blocked !== undefined;
  }

  /** Tries again to hold the frame scanning stopped at: true when it now may (scanning can go on). */
  retryBlocked(): boolean {
    const b = this.blocked;
    if (b === undefined) return true;
    if (this.account !== undefined && !this.account.tryReserve(b.length + 1)) return false;
    this.blocked = undefined;
    this.beginCollecting(b.code, b.length);
    return true;
  }

  /** A frame of interest is being assembled across chunks. */
  get assembling(): boolean {
    return this.collecting !== undefined;
  }

  /** The stream ends mid-frame: give back what the frame being assembled held. */
  abandon(): void {
    if (this.collecting === undefined) return;
    this.account?.release(this.collecting.length);
    this.collecting = undefined;
  }

  /** True between frames: nothing partial is pending. */
  get atBoundary(): boolean {
    return this.headers.atBoundary && this.skipRemaining === 0 && this.collecting === undefined;
  }

  scan(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length) p = this.step(chunk, p);
  }

  /**
   * Consumes `chunk` only up to the end of the frame in progress and returns how many bytes that
   * took (all of them if the frame does not end inside it). Lets the gateway inject a message of
   * its own between two frames without cutting one in half.
   */
  scanToBoundary(chunk: Buffer): number {
    let p = 0;
    while (p < chunk.length) {
      p = this.step(chunk, p);
      if (this.atBoundary) break;
    }
    return p;
  }

  private step(chunk: Buffer, p: number): number {
    const n = chunk.length;
    if (this.collecting !== undefined) return this.continueCollecting(chunk, p);
    if (this.skipRemaining > 0) {
      const step = Math.min(this.skipRemaining, n - p);
      this.skipRemaining -= step;
      return p + step;
    }
    const headers = this.headers;
    if (headers.wholeAt(chunk, p)) {
      headers.readWhole(chunk, p);
      return this.startFrame(chunk, p, headers.code, headers.length, true);
    }
    const next = headers.readSplit(chunk, p);
    if (!headers.atBoundary) return next;
    return this.startFrame(chunk, next, headers.code, headers.length, false);
  }

  /** `p` is the frame start when the header is in `chunk` (inChunk), else the body start. */
  private startFrame(chunk: Buffer, p: number, code: number, length: number, inChunk: boolean): number {
    const bodyLength = length - 4;
    const bodyStart = inChunk ? p + HEADER : p;
    const interest = this.interest[code];
    if (interest !== WHOLE) {
      if (interest === LENGTH_ONLY) this.onFrame(code, length, undefined, 0, 0);
      this.skipRemaining = bodyLength;
      return bodyStart;
    }
    if (length + 1 > this.maxCollected) {
      throw new ProtocolError('frame-too-long', `message of ${length} bytes exceeds the limit`);
    }
    if (inChunk && bodyStart + bodyLength <= chunk.length) {
      this.onFrame(code, length, chunk, p, bodyStart + bodyLength);
      return bodyStart + bodyLength;
    }
    if (bodyLength === 0) {
      const frame = frameBuffer(code, length);
      this.onFrame(code, length, frame, 0, frame.length);
      return bodyStart;
    }
    if (this.account !== undefined && !this.account.tryReserve(length + 1)) {
      this.blocked = { code, length };
      return bodyStart;
    }
    this.beginCollecting(code, length);
    return bodyStart;
  }

  private beginCollecting(code: number, length: number): void {
    this.collecting = frameBuffer(code, length);
    this.collected = HEADER;
    this.collectingCode = code;
  }

  private continueCollecting(chunk: Buffer, p: number): number {
    const frame = this.collecting as Buffer;
    const step = Math.min(frame.length - this.collected, chunk.length - p);
    chunk.copy(frame, this.collected, p, p + step);
    this.collected += step;
    if (this.collected === frame.length) {
      this.collecting = undefined;
      this.account?.release(frame.length);
      this.onFrame(this.collectingCode, frame.length - 1, frame, 0, frame.length);
    }
    return p + step;
  }
}

/** Builds an interest table: WHOLE for `codes`, LENGTH_ONLY for `lengthOnly`. */
export function interestIn(codes: readonly number[], lengthOnly: readonly number[] = []): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of lengthOnly) table[c] = LENGTH_ONLY;
  for (const c of codes) table[c] = WHOLE;
  return table;
}
