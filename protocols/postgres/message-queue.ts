import type { ReadSource } from './read-source.js';
import { checkMessageLength, HEADER_LENGTH } from './wire/frame-headers.js';
import { ProtocolError } from './wire/protocol-error.js';

const EMPTY = Buffer.alloc(0);

export interface TypedMessage {
  readonly code: number;
  /** The whole message, header included, as received. */
  readonly frame: Buffer;
  /** The bytes after the header (a view into `frame`). */
  readonly body: Buffer;
}

/**
 * Reads whole messages off a stream during the handshake, before the relay takes over. Bounded:
 * a declared length above `maxMessage`, or more than `maxBuffered` bytes waiting, is a protocol
 * error, so nothing a peer sends before authenticating can make us hold more than that.
 */
export class MessageQueue {
  private buf: Buffer = EMPTY;
  private want = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private detachFn: (() => void) | undefined;

  constructor(
    private readonly maxMessage: number,
    private readonly maxBuffered: number,
  ) {}

  get buffered(): number {
    return this.buf.length;
  }

  attach(source: ReadSource): void {
    // The source may reuse its buffer for the next read: keep a copy (the handshake is not the hot path).
    source.setHandler((chunk) => this.feed(Buffer.from(chunk)));
    const onEnd = (): void => this.fail(new ProtocolError('truncated', 'connection closed during the handshake'));
    const onError = (e: Error): void => this.fail(e);
    const { stream } = source;
    stream.on('end', onEnd).on('close', onEnd).on('error', onError);
    this.detachFn = () => {
      source.clearHandler();
      stream.off('end', onEnd).off('close', onEnd).off('error', onError);
    };
  }

  /** Stops listening to the stream; bytes already received stay queued. */
  detach(): void {
    this.detachFn?.();
    this.detachFn = undefined;
  }

  /** Whether the bytes not yet taken begin with `prefix`. */
  startsWith(prefix: Buffer): boolean {
    return this.buf.length >= prefix.length && this.buf.subarray(0, prefix.length).equals(prefix);
  }

  /** Hands over whatever was received beyond the messages taken so far. */
  takeRemaining(): Buffer {
    const rest = this.buf;
    this.buf = EMPTY;
    return rest;
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake?.();
  }

  async byte(): Promise<number> {
    await this.waitFor(1);
    const b = this.buf[0] ?? 0;
    this.consume(1);
    return b;
  }

  /** An untyped message (startup phase): returns the body after the int32 length. */
  async untyped(maxLength = this.maxMessage): Promise<Buffer> {
    await this.waitFor(4);
    // A startup-phase message has no type byte: its length field comes first and counts at least itself and a code.
    const length = checkMessageLength(this.buf.readInt32BE(0), maxLength, 8);
    await this.waitFor(length);
    const body = Buffer.from(this.buf.subarray(4, length));
    this.consume(length);
    return body;
  }

  async typed(): Promise<TypedMessage> {
    await this.waitFor(HEADER_LENGTH);
    const code = this.buf[0] ?? 0;
    const length = checkMessageLength(this.buf.readInt32BE(1), this.maxMessage);
    await this.waitFor(length + 1);
    const frame = Buffer.from(this.buf.subarray(0, length + 1));
    this.consume(length + 1);
    return { code, frame, body: frame.subarray(HEADER_LENGTH) };
  }

  /** Adds bytes as if the stream had delivered them (e.g. a leftover from an earlier reader). */
  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.maxBuffered) {
      this.buf = EMPTY;
      this.fail(new ProtocolError('frame-too-long', `more than ${this.maxBuffered} bytes sent before the handshake finished`));
    } else if (this.buf.length >= this.want) {
      this.wake?.();
    }
  }

  private async waitFor(n: number): Promise<void> {
    while (this.buf.length < n) {
      if (this.failure !== undefined) throw this.failure;
      this.want = n;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  private consume(n: number): void {
    this.buf = this.buf.length === n ? EMPTY : this.buf.subarray(n);
  }
}
