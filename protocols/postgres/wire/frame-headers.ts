import { ProtocolError } from './protocol-error.js';

/** A typed message's header: its type byte and an int32 length that counts itself but not the type. */
export const HEADER_LENGTH = 5;

/** The smallest length field a message can carry: the length field itself. */
const MIN_LENGTH = 4;

/**
 * Checks a declared message length: below `min` is malformed; above `max` the message is refused
 * at its header, before any of it is held or passed on. `limitName` is what the refusal names.
 */
export function checkMessageLength(length: number, max: number, min = MIN_LENGTH, limitName?: string): number {
  if (length < min) throw new ProtocolError('frame-too-short', `message length ${length} is below ${min}`);
  if (length > max) {
    if (limitName === undefined) throw new ProtocolError('frame-too-long', `message length ${length} exceeds ${max}`);
    throw new ProtocolError('message-too-large', `message of ${length + 1} bytes exceeds the gateway's limit of ${max + 1} (${limitName})`);
  }
  return length;
}

/** A buffer for a whole message of that type and length field, its header written: the body is filled in as it arrives. */
export function frameBuffer(code: number, length: number): Buffer {
  const frame = Buffer.allocUnsafe(length + 1);
  frame[0] = code;
  frame.writeInt32BE(length, 1);
  return frame;
}

/**
 * The one framer every reader of typed messages uses (the pre-login queue, the relay's scanner, the
 * scope's rewriter): it finds each message's header in a byte stream, whole inside a chunk or split
 * across chunks, and checks its length. What a reader does with the body — skip it, hand it over,
 * hold it, replace it — is the reader's.
 */
export class FrameHeaders {
  private readonly partial = Buffer.alloc(HEADER_LENGTH);
  private fill = 0;
  /** The last header read: its type byte and length field. */
  code = 0;
  length = 0;

  constructor(
    /** The largest length field accepted (the message is one byte longer). */
    private readonly maxLength: number = 0x7fffffff,
    /** The configuration key that sets the limit, named in the refusal. */
    private readonly limitName?: string,
  ) {}

  /** True between messages: no header is half read. */
  get atBoundary(): boolean {
    return this.fill === 0;
  }

  /** Whether the header starting at `p` lies whole inside `chunk` (then `readWhole` reads it without copying). */
  wholeAt(chunk: Buffer, p: number): boolean {
    return this.fill === 0 && chunk.length - p >= HEADER_LENGTH;
  }

  /** Reads the header at `p`, which `wholeAt` said lies whole inside the chunk. */
  readWhole(chunk: Buffer, p: number): void {
    this.code = chunk[p] ?? 0;
    this.length = checkMessageLength(chunk.readInt32BE(p + 1), this.maxLength, MIN_LENGTH, this.limitName);
  }

  /**
   * Takes header bytes from `chunk` at `p` into the partial header and returns the position after
   * them. When the header is complete (`atBoundary` again), `code` and `length` hold it and
   * `lastHeader` holds its bytes.
   */
  readSplit(chunk: Buffer, p: number): number {
    const step = Math.min(HEADER_LENGTH - this.fill, chunk.length - p);
    chunk.copy(this.partial, this.fill, p, p + step);
    this.fill += step;
    if (this.fill < HEADER_LENGTH) return p + step;
    this.fill = 0;
    this.code = this.partial[0] ?? 0;
    this.length = checkMessageLength(this.partial.readInt32BE(1), this.maxLength, MIN_LENGTH, this.limitName);
    return p + step;
  }

  /** The bytes of the header `readSplit` completed (valid until the next header is read). */
  get lastHeader(): Buffer {
    return this.partial;
  }
}
