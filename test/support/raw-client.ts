import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Bytes } from './byte-builder.js';

export interface RawFrame {
  readonly code: string;
  readonly body: Buffer;
}

/**
 * A deliberately dumb protocol client for tests that must send what real drivers never do
 * (malformed frames, 3.2 startup, plaintext after SSLRequest). Reads backend frames by header.
 */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(
    public socket: Socket | TLSSocket,
    source?: { setHandler(handler: (chunk: Buffer) => void): void },
    leftover?: Buffer,
  ) {
    // A connection logged in by the gateway's own upstream client gets its bytes through its read source.
    this.buf = Buffer.from(leftover ?? Buffer.alloc(0));
    this.listen(socket, source);
  }

  /** Takes over a connection already logged in (SCRAM) by `loginUpstream`, to talk to Postgres directly. */
  static fromUpstream(session: {
    socket: Socket | TLSSocket;
    source: { setHandler(handler: (chunk: Buffer) => void): void };
    leftover: Buffer;
  }): RawClient {
    return new RawClient(session.socket, session.source, session.leftover);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** SSLRequest, expect 'S', then a TLS handshake (certificate not verified: self-signed). */
  async startTls(): Promise<void> {
    this.write(new Bytes().int32(80877103).untyped());
    const answer = await this.readBytes(1);
    if (answer.toString() !== 'S') throw new Error(`SSLRequest answered ${answer.toString()}`);
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.listen(secure);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The startup message, then the token when asked; returns every frame up to ReadyForQuery. */
  async login(token: string, parameters: Record<string, string> = {}, version = 196608): Promise<RawFrame[]> {
    const startup = new Bytes().int32(version);
    for (const [k, v] of Object.entries(parameters)) startup.cstring(k).cstring(v);
    this.write(startup.cstring('').untyped());
    const frames: RawFrame[] = [];
    for (;;) {
      const f = await this.readFrame();
      frames.push(f);
      if (f.code === 'R' && f.body.readInt32BE(0) === 3) this.write(new Bytes().cstring(token).frame('p'));
      if (f.code === 'Z' || f.code === 'E') return frames;
    }
  }

  async readBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error('closed');
      if (Date.now() > deadline) throw new Error('timeout');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async readFrame(timeoutMs = 5000): Promise<RawFrame> {
    const header = await this.readBytes(5, timeoutMs);
    const body = await this.readBytes(header.readInt32BE(1) - 4, timeoutMs);
    return { code: String.fromCharCode(header[0] ?? 0), body };
  }

  /** Frames until ReadyForQuery (inclusive). */
  async untilReady(): Promise<RawFrame[]> {
    const frames: RawFrame[] = [];
    for (;;) {
      const f = await this.readFrame();
      frames.push(f);
      if (f.code === 'Z') return frames;
    }
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.buf.length;
  }

  close(): void {
    this.socket.destroy();
  }

  private listen(socket: Socket | TLSSocket, source?: { setHandler(handler: (chunk: Buffer) => void): void }): void {
    const onData = (chunk: Buffer): void => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (const w of this.waiters.splice(0)) w();
    };
    if (source === undefined) socket.on('data', onData);
    else source.setHandler(onData);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }
}

/** SQLSTATE and message of an ErrorResponse body. */
export function errorOf(frame: RawFrame): { code: string; message: string; severity: string; position?: string } {
  const fields = new Map<string, string>();
  let p = 0;
  while (p < frame.body.length && frame.body[p] !== 0) {
    const type = String.fromCharCode(frame.body[p] ?? 0);
    const end = frame.body.indexOf(0, p + 1);
    fields.set(type, frame.body.toString('utf8', p + 1, end));
    p = end + 1;
  }
  const position = fields.get('P');
  return {
    code: fields.get('C') ?? '',
    message: fields.get('M') ?? '',
    severity: fields.get('V') ?? '',
    ...(position !== undefined ? { position } : {}),
  };
}
