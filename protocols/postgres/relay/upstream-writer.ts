import type { Duplex } from 'node:stream';
import type { RelayObserver } from '../recording/relay-observer.js';
import { writeAll, type Pieces } from './write-pieces.js';

/**
 * The relay's way upstream. With write-ahead recording, client pieces wait here until what they
 * carry is committed to the audit log, so a statement never reaches the database before its record
 * is durable. It also knows when the upstream is full, and ends it only after what the client sent.
 */
export class UpstreamWriter {
  /** Write-ahead: pieces recorded and waiting for their commit, oldest first. */
  private readonly held: Pieces[] = [];
  /** The gateway ended the session or the upstream went away: held pieces are dropped, not forwarded. */
  private dropped = false;
  /** The client is done: end the upstream once the held pieces are forwarded. */
  private endAfterHeld = false;
  /** The last write was not taken whole: the client waits for 'drain'. */
  private full = false;

  constructor(
    private readonly upstream: Duplex,
    private readonly observer: RelayObserver | undefined,
    /** Called when this writer may take more (a commit released the last held piece, or 'drain'). */
    private readonly onWritable: () => void,
    /** Called when a write was not taken whole. */
    private readonly onFull: () => void,
  ) {
    upstream.on('drain', () => {
      this.full = false;
      this.onWritable();
    });
  }

  /** Nothing waits here: neither a held piece nor a full socket. */
  get idle(): boolean {
    return this.held.length === 0 && !this.full;
  }

  /** Whether a client chunk handed over may still be referenced by a write in flight. */
  get busy(): boolean {
    return this.upstream.writableLength > 0 || this.held.length > 0;
  }

  forward(pieces: Pieces): void {
    if (this.observer?.writeAhead !== true) {
      this.write(pieces);
      return;
    }
    this.held.push(pieces);
    this.observer.afterDurable(this.releaseHeld);
  }

  /** What is held will never go upstream (the session ends, or the upstream is gone). */
  drop(): void {
    this.dropped = true;
  }

  /** The client is gone: the upstream ends too, after what the client sent before. */
  end(): void {
    if (this.held.length > 0 && !this.dropped) this.endAfterHeld = true;
    else this.upstream.end();
  }

  private write(pieces: Pieces): void {
    if (writeAll(this.upstream, pieces)) return;
    this.full = true;
    this.onFull();
  }

  /** The oldest held pieces are committed: forward them, and say so once nothing is held. */
  private readonly releaseHeld = (): void => {
    const pieces = this.held.shift();
    if (pieces === undefined) return;
    if (this.dropped || this.upstream.destroyed) {
      this.held.length = 0;
      return;
    }
    this.write(pieces);
    if (this.held.length > 0) return;
    if (this.endAfterHeld) this.upstream.end();
    else this.onWritable();
  };
}
