import { ProtocolError } from './protocol-error.js';

/**
 * Reads fields from one complete message body. Every read is bounds-checked: a peer's lengths
 * and terminators are never trusted (pg-protocol's reader scans C strings without an end check).
 */
export class ByteReader {
  private offset: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.offset = start;
  }

  /** Where the next read starts. */
  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string (invalid bytes become U+FFFD: for labels, never for what must be read exactly). */
  cstring(): string {
    return this.cstringBytes().toString('utf8');
  }

  /** A NUL-terminated string's bytes, without the NUL (a view of the message). */
  cstringBytes(): Buffer {
    const nul = this.buf.indexOf(0, this.offset);
    if (nul === -1 || nul >= this.end) {
      throw new ProtocolError('missing-terminator', 'string without a NUL terminator');
    }
    const s = this.buf.subarray(this.offset, nul);
    this.offset = nul + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  /** A count (int16), then that many values, each an int32 length (-1: NULL) and its bytes (views of the message). */
  values(): (Buffer | null)[] {
    const count = this.int16();
    const values: (Buffer | null)[] = [];
    for (let i = 0; i < count; i++) {
      const length = this.int32();
      values.push(length === -1 ? null : this.bytes(length));
    }
    return values;
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.end) {
      throw new ProtocolError('truncated', 'message shorter than its fields');
    }
  }
}
