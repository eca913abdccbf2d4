import { connect, type NetConnectOpts, type Socket } from 'node:net';
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
 * A TCP connection read straight into a buffer of ours (net's `onread`): no allocation and no
 * Readable-stream work per read, which is most of a relay's own CPU per round trip. The buffer is
 * reused until a handler says the last chunk is still held.
 */
export function connectWithOwnBuffer(options: NetConnectOpts): { socket: Socket; source: ReadSource } {
  let handler = DISCARD;
  let holds = NEVER;
  let buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  const nextBuffer = (): Buffer => {
    if (holds()) buffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
    return buffer;
  };
  const socket = connect({
    ...options,
    onread: {
      buffer: nextBuffer,
      callback: (bytes: number, buf: Uint8Array) => {
        handler(Buffer.from(buf.buffer, buf.byteOffset, bytes));
        return true;
      },
    },
  });
  return {
    socket,
    source: {
      stream: socket,
      setHandler(next, nextHolds = NEVER) {
        handler = next;
        holds = nextHolds;
      },
      clearHandler() {
        handler = DISCARD;
        holds = NEVER;
      },
    },
  };
}
