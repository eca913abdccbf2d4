import type { MemoryBudget } from '../../src/session/memory-budget.js';
import type { SessionActivity } from '../../src/session/session-activity.js';
import type { StatementGate } from './policy/statement-gate.js';
import type { FrameScanner } from './wire/frame-scanner.js';

/** What the intake does with what it has read, through the relay. */
export interface IntakeSink {
  forward(pieces: Buffer | Buffer[]): void;
  /** After each batch of frames read (the recorder's chunk boundary). */
  chunkRead(): void;
  protocolError(e: unknown): void;
  pauseClient(): void;
  /** Nothing waits in the intake any more: read the client again if nothing else holds it back. */
  resumeClient(): void;
  ended(): boolean;
}

/**
 * The client's side of a relay: reads what the client sends and hands it on to be forwarded. The
 * bytes are framed once: by the frame scanner, or in a scoped session by the scope's gate, which
 * tells the same readers (the recorder, the relay's Terminate) of what goes upstream. Two things
 * may make it wait, each for this session alone while the others go on: a large statement judged
 * on the analysis thread, and a message to assemble that the gateway's memory budget cannot take
 * yet. What arrives meanwhile is kept, unread, and read in order once nothing waits.
 */
export class ClientIntake {
  private waitingForBudget = false;
  private awaitingGate = false;
  private gateJudged = false;
  /** Bytes scanned only in part (the scanner stopped for the budget), in order. */
  private scanned: Buffer[] = [];
  /** Bytes not yet read at all, in order. */
  private raw: Buffer[] = [];

  constructor(
    private readonly frames: FrameScanner,
    private readonly gate: StatementGate | undefined,
    private readonly budget: MemoryBudget | undefined,
    private readonly activity: SessionActivity,
    private readonly sink: IntakeSink,
  ) {}

  /** Something waits: the relay must not read the client. */
  isStalled(): boolean {
    return this.waitingForBudget || this.scanned.length > 0 || this.gate?.judging === true;
  }

  take(chunk: Buffer): void {
    if (this.isStalled()) {
      // Read before the pause took effect: kept (copied: read buffers are reused), behind what waits.
      this.raw.push(Buffer.from(chunk));
      return;
    }
    this.read(chunk);
    if (this.isStalled()) this.stall();
  }

  /** The session ended: give back what a half-received message held. */
  abandon(): void {
    this.frames.abandon();
    this.gate?.abandon();
  }

  /** What has gone upstream ends at a message boundary (the gateway may add a Terminate). */
  get upstreamAtBoundary(): boolean {
    return this.gate === undefined ? this.frames.atBoundary : this.gate.upstreamAtBoundary;
  }

  private read(chunk: Buffer): void {
    this.activity.bytesFromClient += chunk.length;
    this.activity.clientSpoke();
    if (this.gate === undefined) {
      this.scanAndForward(chunk);
      return;
    }
    let pieces: Buffer[];
    try {
      pieces = this.gate.fromClient(chunk);
    } catch (e) {
      this.sink.chunkRead(); // what came before the malformed frame is still recorded
      this.sink.protocolError(e);
      return;
    }
    this.forwardJudged(pieces);
  }

  /** What the gate let through (it framed and reported it): forwarded; waits if the gate stopped for the budget. */
  private forwardJudged(pieces: Buffer[]): void {
    const gate = this.gate;
    if (gate === undefined) return;
    this.activity.clientMidMessage = !gate.clientAtBoundary;
    this.sink.chunkRead();
    if (pieces.length > 0) this.sink.forward(pieces);
    if (gate.blocked) this.waitForBudget();
  }

  /**
   * Follows the frames of what may go upstream and hands it on. When a message to assemble does not
   * fit the memory budget, what comes before it goes on and the rest waits for the budget.
   */
  private scanAndForward(input: Buffer | Buffer[]): void {
    // One chunk (the common case) is scanned as it is: no array is made for it.
    const count = Array.isArray(input) ? input.length : 1;
    for (let i = 0; i < count; i++) {
      const part = Array.isArray(input) ? (input[i] ?? Buffer.alloc(0)) : input;
      let consumed: number;
      try {
        consumed = this.frames.scanUntilBlocked(part);
      } catch (e) {
        this.sink.chunkRead(); // what came before the malformed frame is still recorded
        this.sink.protocolError(e);
        return;
      }
      if (!this.frames.isBlocked) continue;
      this.setAside(Array.isArray(input) ? input : [input], i, consumed);
      return;
    }
    this.activity.clientMidMessage = !this.frames.atBoundary;
    this.sink.chunkRead();
    if (count > 0) this.sink.forward(input);
  }

  /** Scanning stopped in part `i` at `consumed`: what came before goes on, the rest waits for the budget. */
  private setAside(parts: readonly Buffer[], i: number, consumed: number): void {
    const part = parts[i] ?? Buffer.alloc(0);
    this.activity.clientMidMessage = true;
    this.scanned = [part.subarray(consumed), ...parts.slice(i + 1)].filter((b) => b.length > 0).map((b) => Buffer.from(b));
    const ready = [...parts.slice(0, i), part.subarray(0, consumed)].filter((b) => b.length > 0);
    this.sink.chunkRead();
    if (ready.length > 0) this.sink.forward(ready.length === 1 ? (ready[0] ?? Buffer.alloc(0)) : ready);
    this.waitForBudget();
  }

  private waitForBudget(): void {
    const budget = this.budget;
    if (budget === undefined || this.waitingForBudget) return;
    this.waitingForBudget = true;
    const retry = (): void => {
      if (this.sink.ended()) return;
      if (this.gate !== undefined) {
        const pieces = this.gate.retryBlocked();
        if (pieces === undefined) {
          budget.whenReleased(retry);
          return;
        }
        this.waitingForBudget = false;
        this.forwardJudged(pieces);
      } else {
        if (!this.frames.retryBlocked()) {
          budget.whenReleased(retry);
          return;
        }
        this.waitingForBudget = false;
      }
      this.pump();
    };
    budget.whenReleased(retry);
  }

  private stall(): void {
    this.sink.pauseClient();
    if (this.gate?.judging === true) this.awaitGate();
  }

  private awaitGate(): void {
    if (this.awaitingGate || this.gate === undefined) return;
    this.awaitingGate = true;
    this.gate.whenJudged(() => {
      this.awaitingGate = false;
      this.gateJudged = true;
      this.pump();
    });
  }

  /** Reads on, in order, whatever waited, until something makes it wait again or nothing is left. */
  private pump(): void {
    while (!this.sink.ended()) {
      if (this.waitingForBudget) return;
      if (this.scanned.length > 0) {
        const scanned = this.scanned;
        this.scanned = [];
        this.scanAndForward(scanned);
        continue;
      }
      if (this.gate?.judging === true) {
        if (!this.gateJudged) {
          this.awaitGate();
          return;
        }
        this.gateJudged = false;
        this.forwardJudged(this.gate.continueClient());
        continue;
      }
      const next = this.raw.shift();
      if (next === undefined) break;
      this.read(next);
    }
    if (!this.sink.ended() && !this.isStalled()) this.sink.resumeClient();
  }
}
