import type { Duplex } from 'node:stream';
import type { EndReason } from '../../../src/session/end-reason.js';
import { SessionActivity } from '../../../src/session/session-activity.js';
import type { ReadSource } from '../read-source.js';
import type { RelayObserver } from '../recording/relay-observer.js';
import { readyTracker, TerminateWatch } from './relay-stages.js';
import { UpstreamWriter } from './upstream-writer.js';
import { FrameStream } from '../wire/frame-stream.js';
import { type FrameStage } from '../wire/frame-stage.js';
import type { RelayEnd, RelayOptions } from './relay-options.js';
import { TERMINATE } from '../wire/frontend-messages.js';
import { ProtocolError } from '../wire/protocol-error.js';
import { InvariantError } from '../../../src/idgate-error.js';
import { byteLength, writeAll, type Pieces } from './write-pieces.js';

/** How long a gateway-initiated end waits for the frame in flight to finish before cutting. */
const BOUNDARY_GRACE_MS = 2000;

/**
 * Moves bytes between the client and its upstream, in order, through one frame stream per
 * direction (wire/frame-stream.ts): the client's through the scope's gate, a Terminate watch and
 * the recorder; the server's through the gate's answers, `max-rows`, the ReadyForQuery tracker and
 * the recorder. A malformed frame ends the session, and the gateway ends a session between two
 * frames. Backpressure is respected both ways: a side that cannot take more pauses the other, so a
 * slow reader never makes the gateway buffer without bound.
 */
export class Relay {
  private readonly fromClient: FrameStream;
  private readonly fromServer: FrameStream;
  private readonly goodbye = new TerminateWatch();
  private waitingForObserver = false;
  /** The client's stream stopped (a statement judged off the relay thread, or the memory budget): read on once it is ready. */
  private waitingForStream = false;
  private reason: EndReason | undefined;
  private error: Error | undefined;
  private pendingFatal: Buffer | undefined;
  private open = 2;
  private readonly client: Duplex;
  private readonly upstream: Duplex;
  private readonly toUpstream: UpstreamWriter;
  private readonly observer: RelayObserver | undefined;
  private readonly activity: SessionActivity;
  private readonly internalError: () => Buffer;
  private readonly onGatewayEnd: () => void;

  constructor(
    private readonly clientSource: ReadSource,
    private readonly upstreamSource: ReadSource,
    private readonly onEnd: (end: RelayEnd) => void,
    /** Builds the FATAL a client gets for a malformed frame. */
    private readonly protocolViolation: (e: ProtocolError) => Buffer,
    options: RelayOptions = {},
  ) {
    const observer = options.observer;
    this.observer = observer;
    this.activity = options.activity ?? new SessionActivity();
    this.internalError = options.internalError ?? (() => Buffer.alloc(0));
    this.onGatewayEnd = options.onGatewayEnd ?? (() => undefined);
    this.client = clientSource.stream;
    this.upstream = upstreamSource.stream;
    this.toUpstream = new UpstreamWriter(
      this.upstream,
      observer,
      () => this.resumeClient(),
      () => this.client.pause(),
    );
    const recorded = (stage: FrameStage | undefined): FrameStage[] => (stage === undefined ? [] : [stage]);
    this.fromClient = new FrameStream([...(options.clientStages ?? []), this.goodbye, ...recorded(observer?.clientStage)], {
      maxFrame: options.maxClientMessage ?? Number.MAX_SAFE_INTEGER,
      limitName: 'listen.max-message-bytes',
      ...(options.budget !== undefined ? { account: options.budget } : {}),
    });
    this.fromServer = new FrameStream([...(options.serverStages ?? []), readyTracker(this.activity), ...recorded(observer?.serverStage)]);
  }

  start(clientLeftover: Buffer, upstreamLeftover: Buffer): void {
    const { client, upstream } = this;
    // A chunk read into a reused buffer stays ours until the write that carries it is flushed.
    this.clientSource.setHandler(this.onClientData, () => this.toUpstream.busy);
    this.upstreamSource.setHandler(this.onUpstreamData, () => client.writableLength > 0);
    client.on('drain', () => upstream.resume());
    client.on('end', () => {
      this.reason ??= this.goodbye.seen ? 'client-terminated' : 'client-disconnected';
      this.toUpstream.end();
    });
    upstream.on('end', () => {
      this.toUpstream.drop();
      this.reason ??= 'upstream-closed';
      client.end();
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
    if (!this.endByGateway(reason)) return;
    this.toUpstream.drop();
    this.client.pause();
    this.clientSource.clearHandler();
    if (this.fromServer.outputAtBoundary) {
      this.finishWithFatal(fatal);
      return;
    }
    this.pendingFatal = fatal;
    setTimeout(() => this.destroyBoth(), BOUNDARY_GRACE_MS).unref();
  }

  /**
   * A frame of the gateway's own to the client (a NOTICE), sent only between two of the server's
   * frames and when the client is keeping up — else skipped, as it can be. False once the session ended.
   */
  notify(frame: Buffer): boolean {
    if (this.reason !== undefined) return false;
    if (!this.fromServer.outputAtBoundary || this.client.writableLength > 0) return true;
    this.client.write(frame);
    this.activity.bytesToClient += frame.length;
    return true;
  }

  /** The one condition under which the client is read: nothing of the session waits on anything. */
  private canReadClient(): boolean {
    return (
      this.reason === undefined && this.toUpstream.idle && !this.waitingForObserver && !this.waitingForStream && !this.fromClient.isStopped
    );
  }

  private resumeClient(): void {
    if (this.canReadClient()) this.client.resume();
  }

  private readonly onClientData = (chunk: Buffer): void => {
    this.activity.bytesFromClient += chunk.length;
    this.activity.clientSpoke();
    this.readClient(chunk);
  };

  /** Reads `chunk` (or, undefined, what the stopped stream kept) through the client's frame stream and forwards what goes on. */
  private readClient(chunk: Buffer | undefined): void {
    let pieces: Pieces;
    try {
      pieces = chunk === undefined ? this.fromClient.resume() : this.fromClient.push(chunk);
    } catch (e) {
      this.protocolError(e);
      return;
    }
    this.activity.clientMidMessage = !this.fromClient.inputAtBoundary;
    if (Buffer.isBuffer(pieces) || pieces.length > 0) this.forward(pieces);
    if (this.fromClient.isStopped && !this.waitingForStream) this.waitForStream();
  }

  /** The stream stopped (a statement judged off the relay thread, or the memory budget): the client waits until it may go on. */
  private waitForStream(): void {
    this.waitingForStream = true;
    this.client.pause();
    this.fromClient.whenReady(() => {
      this.waitingForStream = false;
      if (this.reason !== undefined) return;
      this.readClient(undefined);
      this.resumeClient();
    });
  }

  /** Sends client pieces upstream (with write-ahead, once recorded), and waits if the recorder is behind. */
  private forward(pieces: Pieces): void {
    this.toUpstream.forward(pieces);
    const observer = this.observer;
    if (observer?.congested === true && !this.waitingForObserver) this.waitForObserver(observer);
  }

  /** The observer (the audit writer) is behind: stop reading the client until it catches up. */
  private waitForObserver(observer: RelayObserver): void {
    this.waitingForObserver = true;
    this.client.pause();
    observer.whenDrained(() => {
      this.waitingForObserver = false;
      this.resumeClient();
    });
  }

  private readonly onUpstreamData = (chunk: Buffer): void => {
    // Whether the client stands between two messages, before any of this chunk reaches it.
    const clientAtBoundary = this.fromServer.outputAtBoundary;
    try {
      this.readUpstream(chunk);
    } catch (e) {
      this.upstreamFailed(e, clientAtBoundary);
    }
  };

  private readUpstream(chunk: Buffer): void {
    const fatal = this.pendingFatal;
    // The session is ending: the client gets the message it is inside finished, then the FATAL.
    const pieces = fatal === undefined ? this.fromServer.push(chunk) : this.fromServer.pushUntilBoundary(chunk);
    this.activity.bytesToClient += byteLength(pieces);
    if (fatal !== undefined) {
      writeAll(this.client, pieces);
      if (this.fromServer.outputAtBoundary) this.finishWithFatal(fatal);
    } else if (!writeAll(this.client, pieces)) this.upstream.pause();
  }

  /**
   * The database's bytes could not be followed (a malformed frame: a broken or hostile server, or
   * someone between it and the gateway), or the gateway failed while reading them. This session
   * alone ends, never the process: the client gets a FATAL if it stands between two messages (one
   * inside a message would only be garbage to it), else its connection just closes.
   */
  private upstreamFailed(e: unknown, clientAtBoundary: boolean): void {
    const malformed = e instanceof ProtocolError;
    this.endByGateway(malformed ? 'upstream-protocol-violation' : 'internal-error');
    this.error ??= e instanceof Error ? e : new InvariantError(String(e));
    this.toUpstream.drop();
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

  /** The gateway ends the session (unless it ended already): what the server runs for it now is cancelled. */
  private endByGateway(reason: EndReason): boolean {
    if (this.reason !== undefined) return false;
    this.reason = reason;
    this.onGatewayEnd();
    return true;
  }

  private finishWithFatal(fatal: Buffer): void {
    this.pendingFatal = undefined;
    this.upstreamSource.clearHandler();
    this.client.end(fatal);
    if (this.fromClient.outputAtBoundary) this.upstream.end(TERMINATE);
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

  private fail(reason: EndReason, e: Error): void {
    this.reason ??= reason;
    this.toUpstream.drop();
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
        this.toUpstream.end();
      });
      setTimeout(() => this.destroyBoth(), BOUNDARY_GRACE_MS).unref();
      return;
    }
    if (this.open === 0) {
      this.fromClient.abandon();
      this.onEnd({
        reason: this.reason ?? 'client-disconnected',
        ...(this.error !== undefined ? { error: this.error } : {}),
        bytesFromClient: this.activity.bytesFromClient,
        bytesToClient: this.activity.bytesToClient,
      });
    }
  };
}
