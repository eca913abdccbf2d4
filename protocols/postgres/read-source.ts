import { connect, Socket, type NetConnectOpts, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import type { Duplex } from 'node:stream';

export type ChunkHandler = (chunk: Buffer) => void;

/**
 * Where the bytes of one connection arrive. A chunk may be a view into a buffer that the next
 * read reuses: a handler copies what must outlive the call, or says through `holds` that the last
 * chunk is still referenced (a write to the other side not yet flushed), so the next read gets a
 * fresh buffer.
 */
export interface ReadSource {
  readonly stream: Duplex;
  setHandler(handler: ChunkHandler, holds?: () => boolean): void;
  /** Stops delivering chunks (a stream source stops listening; the stream stays usable). */
  clearHandler(): void;
}

/** Chunks from a stream's 'data' events: each one a buffer of its own. */
export function streamSource(stream: Duplex): ReadSource {
  let current: ChunkHandler | undefined;
  const clearHandler = (): void => {
    if (current !== undefined) stream.off('data', current);
    current = undefined;
  };
  return {
    stream,
    setHandler(handler) {
      clearHandler();
      current = handler;
      stream.on('data', handler);
    },
    clearHandler,
  };
}

const READ_BUFFER_SIZE = 64 * 1024;
const DISCARD: ChunkHandler = () => undefined;
const NEVER: () => boolean = () => false;

/**
 * Reads of one TCP connection straight into a buffer of ours (net's `onread`): no allocation and
 * no Readable-stream work per read, which is most of a relay's own CPU per round trip.
 *
 * The buffer is reused while the handler says nothing holds the last chunk. A chunk that is still
 * held when the handler returns (a write not yet completed: every write to a TLS socket completes
 * a turn of the event loop later) moves the next read to a second buffer, and the two alternate:
 * a buffer is taken again once nothing was held at the start of a later read. A fresh buffer is
 * allocated only when both are held, so a relay towards a TLS client does not allocate 64 KB per read.
 */
class OwnBufferReader {
  private handler = DISCARD;
  private holds = NEVER;
  private buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  /** The buffer read into before the current one, and whether nothing read into it is held any more. */
  private spare: Buffer<ArrayBuffer> | undefined;
  private spareFree = false;

  readonly onread = {
    buffer: (): Buffer => {
      if (!this.holds()) return this.buffer;
      const held = this.buffer;
      this.buffer = this.spare !== undefined && this.spareFree ? this.spare : Buffer.allocUnsafe(READ_BUFFER_SIZE);
      this.spare = held;
      this.spareFree = false;
      return this.buffer;
    },
    callback: (bytes: number, buf: Uint8Array): boolean => {
      // Nothing is held before this chunk is handed over, so nothing read into the spare is either.
      if (this.spare !== undefined && !this.holds()) this.spareFree = true;
      this.handler(Buffer.from(buf.buffer, buf.byteOffset, bytes));
      return true;
    },
  };

  sourceFor(stream: Socket): ReadSource {
    return {
      stream,
      setHandler: (next, nextHolds = NEVER) => this.use(next, nextHolds),
      clearHandler: () => this.use(DISCARD, NEVER),
    };
  }

  /** A new handler cannot vouch for what its predecessor's writes still hold: the spare is let go. */
  private use(handler: ChunkHandler, holds: () => boolean): void {
    this.handler = handler;
    this.holds = holds;
    this.spare = undefined;
    this.spareFree = false;
  }
}

/** An outgoing TCP connection read into our own buffer. */
export function connectWithOwnBuffer(options: NetConnectOpts): { socket: Socket; source: ReadSource } {
  const reader = new OwnBufferReader();
  const socket = connect({ ...options, onread: reader.onread });
  return { socket, source: reader.sourceFor(socket) };
}

/** What net keeps of an accepted connection: the native handle the socket reads and writes through. */
interface HandleHolder {
  _handle?: unknown;
}

/** net.Socket's constructor also takes an existing native handle (undocumented; net uses it itself). */
interface AdoptOptions extends SocketConstructorOpts {
  handle: unknown;
  onread: OnReadOpts;
}

/**
 * An accepted TCP connection read into our own buffer. A server cannot ask for `onread` on the
 * sockets it accepts, so the connection (accepted paused, nothing read yet) moves to a socket
 * built on the same native handle with `onread`; the empty shell is destroyed, which also settles
 * the server's connection count. Where the handle is not reachable (another runtime), the
 * accepted socket is used as it is, with 'data' events.
 */
export function adoptWithOwnBuffer(accepted: Socket): { socket: Socket; source: ReadSource } {
  const shell = accepted as unknown as HandleHolder;
  const handle = shell._handle;
  if (handle === undefined || handle === null) {
    accepted.resume();
    return { socket: accepted, source: streamSource(accepted) };
  }
  const reader = new OwnBufferReader();
  const options: AdoptOptions = { handle, onread: reader.onread };
  const socket = new Socket(options);
  shell._handle = null;
  accepted.destroy();
  return { socket, source: reader.sourceFor(socket) };
}
