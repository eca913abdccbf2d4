/**
 * Builds protocol bytes independently of the code under test (the role BufferList plays in
 * pg-protocol's tests): fields are appended one by one and the length is computed at the end.
 */
export class Bytes {
  private parts: Buffer[] = [];

  int8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }

  cstring(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }

  raw(b: Buffer | string): this {
    this.parts.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
    return this;
  }

  /** The fields so far as one typed message: code byte, int32 length (self-inclusive), body. */
  frame(code: string): Buffer {
    const body = Buffer.concat(this.parts);
    const header = Buffer.alloc(5);
    header.write(code, 0, 'latin1');
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  }

  /** The fields so far as an untyped (startup-phase) message. */
  untyped(): Buffer {
    const body = Buffer.concat(this.parts);
    const header = Buffer.alloc(4);
    header.writeInt32BE(body.length + 4);
    return Buffer.concat([header, body]);
  }

  body(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Every way to cut `buf` in two, for feeding a parser across chunk boundaries. */
export function* splitsOf(buf: Buffer): Generator<Buffer[]> {
  for (let i = 1; i < buf.length; i++) yield [buf.subarray(0, i), buf.subarray(i)];
}

/** `buf` one byte at a time. */
export function bytewise(buf: Buffer): Buffer[] {
  return [...buf].map((b) => Buffer.from([b]));
}
