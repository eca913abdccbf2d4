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
 * no Readable-stream work per read, which is most of a relay's own CPU per round trip. The buffer
 * is reused until the handler says the last chunk is still held.
 */
class OwnBufferReader {
  private handler = DISCARD;
  private holds = NEVER;
  private buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);

  readonly onread = {
    buffer: (): Buffer => {
      if (this.holds()) this.buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
      return this.buffer;
    },
    callback: (bytes: number, buf: Uint8Array): boolean => {
      this.handler(Buffer.from(buf.buffer, buf.byteOffset, bytes));
      return true;
    },
  };

  sourceFor(stream: Socket): ReadSource {
    return {
      stream,
      setHandler: (next, nextHolds = NEVER) => {
        this.handler = next;
        this.holds = nextHolds;
      },
      clearHandler: () => {
        this.handler = DISCARD;
        this.holds = NEVER;
      },
    };
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
