import type { Duplex } from 'node:stream';
import type { EndReason } from '../../src/session/end-reason.js';
import type { MemoryBudget } from '../../src/session/memory-budget.js';
import { ClientIntake } from './client-intake.js';
import { SessionActivity, type TransactionStatus } from '../../src/session/session-activity.js';
import type { ReadSource } from './read-source.js';
import type { StatementGate } from './policy/statement-gate.js';
import type { RowCap } from './policy/row-cap.js';
import type { RelayObserver } from './recording/relay-observer.js';
import { Backend, Frontend } from './wire/codes.js';
import { FrameScanner, interestIn, WHOLE, type FrameHandler } from './wire/frame-scanner.js';
import { TERMINATE } from './wire/frontend-messages.js';
import { ProtocolError } from './wire/protocol-error.js';
import { InvariantError } from '../../src/idgate-error.js';

const CLIENT_INTEREST = interestIn([Frontend.Terminate]);

function withTerminate(table: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(table);
  copy[Frontend.Terminate] = CLIENT_INTEREST[Frontend.Terminate] ?? 0;
  return copy;
}
/** ReadyForQuery is always followed: it ends a round trip and carries the transaction status. */
const READY_ONLY = interestIn([Backend.ReadyForQuery]);

function withReady(table: Uint8Array): Uint8Array {
  if (table[Backend.ReadyForQuery] === WHOLE) return table;
  const copy = Uint8Array.from(table);
  copy[Backend.ReadyForQuery] = WHOLE;
  return copy;
}

const TRANSACTION_STATUS: Readonly<Record<number, TransactionStatus>> = { 0x49: 'idle', 0x54: 'in-transaction', 0x45: 'failed' };
/** How long a gateway-initiated end waits for the frame in flight to finish before cutting. */
const BOUNDARY_GRACE_MS = 2000;

export interface RelayOptions {
  /** Sees the frames it asks for (the audit recorder), and may ask the relay to slow the client down. */
  readonly observer?: RelayObserver | undefined;
  /** Judges statements against the session's scope (absent for `scope: all`). */
  readonly gate?: StatementGate | undefined;
  /** The largest message the client may send: a longer one ends the session before any of it is held or forwarded. */
  readonly maxClientMessage?: number;
  /** The session's state and counters (bytes, round trips), kept up to date for metrics and limits. */
  readonly activity?: SessionActivity;
  /** `max-rows`: result rows past the cap are not forwarded. */
  readonly rowCap?: RowCap | undefined;
  /** The gateway-wide budget for frames held while assembled: past it, the client is read no further. */
  readonly budget?: MemoryBudget | undefined;
  /** Builds the FATAL a client gets when the gateway itself fails while reading its session (no internal detail in it). */
  readonly internalError?: () => Buffer;
}

export interface RelayEnd {
  readonly reason: EndReason;
  readonly error?: Error;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}

/**
 * Moves bytes between the client and its upstream, unchanged and in order. Frames are followed by
 * their headers only (FrameScanner), so a malformed client frame ends the session and the gateway
 * can end a session between two frames. Backpressure is respected both ways: a side that cannot
 * take more pauses the other, so a slow reader never makes the gateway buffer without bound.
 */
export class Relay {
  private readonly clientFrames: FrameScanner;
  private readonly upstreamFrames: FrameScanner;
  private clientTerminated = false;
  private waitingForObserver = false;
  private reason: EndReason | undefined;
  private error: Error | undefined;
  private pendingFatal: Buffer | undefined;
  private open = 2;
  private readonly client: Duplex;
  private readonly upstream: Duplex;
  /** Write-ahead: client chunks recorded and waiting for their commit before they go upstream, oldest first. */
  private readonly held: (Buffer | Buffer[])[] = [];
  /** The gateway ended the session or the upstream went away: held chunks are dropped, not forwarded. */
  private dropHeld = false;
  /** The client is done: end the upstream once the held chunks are forwarded. */
  private endUpstreamAfterHeld = false;

  private readonly observer: RelayObserver | undefined;
  private readonly gate: StatementGate | undefined;
  private readonly activity: SessionActivity;
  private readonly rowCap: RowCap | undefined;
  /** Reads the client through the gate and the frame scanner; may make this session wait (the analysis thread, the memory budget). */
  private readonly intake: ClientIntake;
  private readonly internalError: () => Buffer;

  constructor(
    private readonly clientSource: ReadSource,
    private readonly upstreamSource: ReadSource,
    private readonly onEnd: (end: RelayEnd) => void,
    /** Builds the FATAL a client gets for a malformed frame. */
    private readonly protocolViolation: (e: ProtocolError) => Buffer,
    options: RelayOptions = {},
  ) {
    const { observer, gate, rowCap } = options;
    const maxClientMessage = options.maxClientMessage ?? Number.MAX_SAFE_INTEGER;
    this.observer = observer;
    this.gate = gate;
    this.rowCap = rowCap;
    this.activity = options.activity ?? new SessionActivity();
    this.internalError = options.internalError ?? (() => Buffer.alloc(0));
    this.client = clientSource.stream;
    this.upstream = upstreamSource.stream;
    const clientInterest = observer ? withTerminate(observer.clientInterest) : CLIENT_INTEREST;
    const onClientFrame: FrameHandler = (code, length, bytes, start, end) => {
      if (code === Frontend.Terminate) this.clientTerminated = true;
      observer?.onClientFrame(code, length, bytes, start, end);
    };
    this.clientFrames = new FrameScanner(clientInterest, onClientFrame, maxClientMessage, maxClientMessage, options.budget);
    // A scoped session's gate frames the client's bytes anyway: it tells the same readers, and the scanner stays idle.
    gate?.readOutgoing({ interest: clientInterest, onFrame: onClientFrame, maxFrame: maxClientMessage });
    this.intake = new ClientIntake(this.clientFrames, gate, options.budget, this.activity, {
      forward: (pieces) => this.forward(pieces),
      chunkRead: () => this.observer?.onClientChunk(),
      protocolError: (e) => this.protocolError(e),
      pauseClient: () => this.client.pause(),
      resumeClient: () => {
        if (this.reason === undefined && this.held.length === 0 && !this.waitingForObserver && this.upstream.writableLength === 0) {
          this.client.resume();
        }
      },
      ended: () => this.reason !== undefined,
    });
    const observerWantsReady = observer?.upstreamInterest[Backend.ReadyForQuery] === WHOLE;
    const upstreamInterest = observer ? withReady(observer.upstreamInterest) : READY_ONLY;
    const onUpstreamFrame: FrameHandler = (code, length, bytes, start, end) => {
      if (code === Backend.ReadyForQuery) {
        // A ReadyForQuery has a one-byte body, so it is always handed over whole.
        this.activity.ready(TRANSACTION_STATUS[bytes?.[start + 5] ?? 0] ?? 'idle');
        if (!observerWantsReady) return;
      }
      observer?.onUpstreamFrame(code, length, bytes, start, end);
    };
    this.upstreamFrames = new FrameScanner(upstreamInterest, onUpstreamFrame);
    // In a scoped or row-capped session the last rewriter before the client frames the server's
    // bytes anyway: it tells the same readers, and the scanner stays idle.
    const serverOutgoing = { interest: upstreamInterest, onFrame: onUpstreamFrame, maxFrame: Number.MAX_SAFE_INTEGER };
    if (rowCap !== undefined) rowCap.readOutgoing(serverOutgoing);
    else gate?.readServerOutgoing(serverOutgoing);
  }

  /** What has gone to the client ends at a message boundary (a FATAL of the gateway's may follow). */
  private get clientAtBoundary(): boolean {
    if (this.rowCap !== undefined) return this.rowCap.outputAtBoundary;
    if (this.gate !== undefined) return this.gate.serverOutputAtBoundary;
    return this.upstreamFrames.atBoundary;
  }

  start(clientLeftover: Buffer, upstreamLeftover: Buffer): void {
    const { client, upstream } = this;
    // A chunk read into a reused buffer stays ours until the write that carries it is flushed.
    this.clientSource.setHandler(this.onClientData, () => upstream.writableLength > 0 || this.held.length > 0);
    this.upstreamSource.setHandler(this.onUpstreamData, () => client.writableLength > 0);
    upstream.on('drain', () => {
      if (!this.waitingForObserver && !this.intake.isStalled() && this.held.length === 0) client.resume();
    });
    client.on('drain', () => upstream.resume());
    client.on('end', () => {
      this.reason ??= this.clientTerminated ? 'client-terminated' : 'client-disconnected';
      this.endUpstream();
    });
    upstream.on('end', () => {
      this.dropHeld = true;
      this.closeSide('upstream-closed', client);
    });
    client.on('error', (e: Error) => this.fail('socket-error', e));
    upstream.on('error', (e: Error) => this.fail('socket-error', e));
    client.on('close', this.onClose);
    upstream.on('close', this.onClose);
    if (upstreamLeftover.length > 0) this.onUpstreamData(upstreamLeftover);
    if (clientLeftover.length > 0) this.onClientData(clientLeftover);
    client.resume();
    upstream.resume();
  }

  /**
   * Ends the session from the gateway's side. The client gets `fatal` between two frames (the
   * frame in flight is finished first), then both connections close.
   */
  terminate(reason: EndReason, fatal: Buffer): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.dropHeld = true;
    this.client.pause();
    this.clientSource.clearHandler();
    if (this.clientAtBoundary) {
      this.finishWithFatal(fatal);
      return;
    }
    this.pendingFatal = fatal;
    setTimeout(() => this.destroyBoth(), BOUNDARY_GRACE_MS).unref();
  }

  private readonly onClientData = (chunk: Buffer): void => {
    this.intake.take(chunk);
  };

  /**
   * Sends a client chunk (or the gate's pieces of it) upstream — with write-ahead recording only
   * once what it carries is committed to the audit log, the client paused meanwhile, so a
   * statement never reaches the database before its record is durable.
   */
  private forward(pieces: Buffer | Buffer[]): void {
    const observer = this.observer;
    if (observer?.writeAhead === true) {
      this.held.push(pieces);
      observer.afterDurable(this.releaseHeld);
    } else if (!writeAll(this.upstream, pieces)) this.client.pause();
    if (observer?.congested === true && !this.waitingForObserver) this.waitForObserver(observer);
  }

  /** The oldest held chunk is committed: forward it, and read the client again once nothing is held. */
  private readonly releaseHeld = (): void => {
    const pieces = this.held.shift();
    if (pieces === undefined) return;
    if (this.dropHeld || this.upstream.destroyed) {
      this.held.length = 0;
      return;
    }
    const flowing = writeAll(this.upstream, pieces);
    if (this.held.length > 0) return;
    if (this.endUpstreamAfterHeld) this.upstream.end();
    else if (flowing && !this.waitingForObserver && !this.intake.isStalled() && this.reason === undefined) this.client.resume();
  };

  /** The client is gone: the upstream ends too, after what the client sent before (write-ahead may still hold some). */
  private endUpstream(): void {
    if (this.held.length > 0 && !this.dropHeld) this.endUpstreamAfterHeld = true;
    else this.upstream.end();
  }

  /** The observer (the audit writer) is behind: stop reading the client until it catches up. */
  private waitForObserver(observer: RelayObserver): void {
    this.waitingForObserver = true;
    this.client.pause();
    observer.whenDrained(() => {
      this.waitingForObserver = false;
      if (this.reason === undefined && this.held.length === 0 && !this.intake.isStalled()) this.client.resume();
    });
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    // Whether the client stands between two messages, before any of this chunk reaches it.
    const clientAtBoundary = this.clientAtBoundary;
    try {
      this.readUpstream(chunk);
    } catch (e) {
      this.upstreamFailed(e, clientAtBoundary);
    }
  };

  private readUpstream(chunk: Buffer): void {
    if (this.pendingFatal !== undefined) {
      this.forwardToBoundary(chunk, this.pendingFatal);
      return;
    }
    if (this.gate !== undefined || this.rowCap !== undefined) {
      this.filteredUpstreamData(chunk);
      return;
    }
    this.activity.bytesToClient += chunk.length;
    this.upstreamFrames.scan(chunk);
    this.observer?.onUpstreamChunk();
    if (!this.client.write(chunk)) this.upstream.pause();
  }

  /**
   * The database's bytes could not be followed (a malformed frame: a broken or hostile server, or
   * someone between it and the gateway), or the gateway failed while reading them. This session
   * alone ends, never the process: the client gets a FATAL if it stands between two messages (one
   * inside a message would only be garbage to it), else its connection just closes.
   */
  private upstreamFailed(e: unknown, clientAtBoundary: boolean): void {
    const malformed = e instanceof ProtocolError;
    this.reason ??= malformed ? 'upstream-protocol-violation' : 'internal-error';
    this.error ??= e instanceof Error ? e : new InvariantError(String(e));
    this.dropHeld = true;
    this.pendingFatal = undefined;
    this.upstreamSource.clearHandler();
    this.upstream.destroy();
    if (!clientAtBoundary) {
      this.client.destroy();
      return;
    }
    const fatal = malformed
      ? this.protocolViolation(new ProtocolError(e.code, `the database sent a malformed message: ${e.message}`))
      : this.internalError();
    this.client.end(fatal);
  }

  /** A scoped or row-capped session: what reaches the client is what the gate and the cap let through. */
  private filteredUpstreamData(chunk: Buffer): void {
    let pieces = this.gate === undefined ? [chunk] : this.gate.fromServer(chunk);
    if (this.rowCap !== undefined) pieces = capRows(this.rowCap, pieces);
    for (const piece of pieces) this.activity.bytesToClient += piece.length;
    this.observer?.onUpstreamChunk();
    if (!writeAll(this.client, pieces)) this.upstream.pause();
  }

  /** The session is ending: the client gets the message it is inside finished, then `fatal`. */
  private forwardToBoundary(chunk: Buffer, fatal: Buffer): void {
    if (this.gate !== undefined || this.rowCap !== undefined) {
      this.forwardFilteredToBoundary(chunk);
    } else {
      const upTo = this.upstreamFrames.scanToBoundary(chunk);
      this.activity.bytesToClient += upTo;
      this.client.write(upTo === chunk.length ? chunk : chunk.subarray(0, upTo));
    }
    this.observer?.onUpstreamChunk();
    if (this.clientAtBoundary) this.finishWithFatal(fatal);
  }

  /** As far as the message the client is inside, through the gate and the cap (what follows is never read). */
  private forwardFilteredToBoundary(chunk: Buffer): void {
    const rowCap = this.rowCap;
    let pieces: Buffer[];
    if (rowCap === undefined) pieces = this.gate?.fromServerUntilBoundary(chunk) ?? [];
    else {
      pieces = [];
      for (const piece of this.gate === undefined ? [chunk] : this.gate.fromServer(chunk)) {
        pieces.push(...rowCap.processUntilBoundary(piece));
      }
    }
    for (const piece of pieces) this.activity.bytesToClient += piece.length;
    writeAll(this.client, pieces);
  }

  private finishWithFatal(fatal: Buffer): void {
    this.pendingFatal = undefined;
    this.upstreamSource.clearHandler();
    this.client.end(fatal);
    if (this.intake.upstreamAtBoundary) this.upstream.end(TERMINATE);
    else this.upstream.destroy();
  }

  /**
   * A malformed frame ends the session with the protocol's own error. Anything else thrown while
   * reading is the gateway's fault: the client gets only a generic FATAL (the detail goes to the log
   * through the session's end), never the exception's text.
   */
  private protocolError(e: unknown): void {
    if (!(e instanceof ProtocolError)) {
      this.error = e instanceof Error ? e : new InvariantError(String(e));
      this.terminate('internal-error', this.internalError());
      return;
    }
    this.error = e;
    this.terminate(e.code === 'message-too-large' ? 'message-too-large' : 'protocol-violation', this.protocolViolation(e));
  }

  private closeSide(reason: EndReason, other: Duplex): void {
    this.reason ??= reason;
    other.end();
  }

  private fail(reason: EndReason, e: Error): void {
    this.reason ??= reason;
    this.dropHeld = true;
    this.error ??= e;
    this.destroyBoth();
  }

  private destroyBoth(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  private readonly onClose = (): void => {
    this.open -= 1;
    if (this.open === 1) {
      // One side is gone: whatever the other still holds has nowhere to go.
      this.reason ??= this.client.destroyed ? 'client-disconnected' : 'upstream-closed';
      setImmediate(() => {
        if (!this.client.writableFinished) this.client.end();
        this.endUpstream();
      });
      setTimeout(() => this.destroyBoth(), BOUNDARY_GRACE_MS).unref();
      return;
    }
    if (this.open === 0) {
      this.intake.abandon();
      this.onEnd({
        reason: this.reason ?? 'client-disconnected',
        ...(this.error !== undefined ? { error: this.error } : {}),
        bytesFromClient: this.activity.bytesFromClient,
        bytesToClient: this.activity.bytesToClient,
      });
    }
  };
}

function capRows(cap: RowCap, pieces: Buffer[]): Buffer[] {
  if (pieces.length === 1) return cap.process(pieces[0] ?? Buffer.alloc(0));
  const out: Buffer[] = [];
  for (const piece of pieces) for (const kept of cap.process(piece)) out.push(kept);
  return out;
}

/** Writes the pieces as one burst (corked); false when the destination wants no more for now. */
function writeAll(destination: Duplex, pieces: Buffer | readonly Buffer[]): boolean {
  if (!Array.isArray(pieces)) return destination.write(pieces);
  if (pieces.length === 1) return destination.write(pieces[0]);
  destination.cork();
  let ok = true;
  for (const piece of pieces) ok = destination.write(piece);
  destination.uncork();
  return ok;
}
