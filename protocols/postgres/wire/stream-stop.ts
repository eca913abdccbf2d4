import { InvariantError } from '../../../src/idgate-error.js';
import type { FrameStage, HoldAccount } from './frame-stage.js';

export const RUNNING = 0;
/** Stopped at a held frame whose stage has not given its verdict yet. */
export const AWAITING_VERDICT = 1;
/** Stopped at a frame whose assembly the memory budget cannot take yet. */
export const AWAITING_BUDGET = 2;

/** A held frame whose verdict came: what goes on in its place (the frame itself when kept), after stage `holder`. */
export interface Settled {
  readonly holder: number;
  readonly goesOn: Buffer;
}
/** `leave` for a blocked assembly: the budget took it, the frame's body may be read. */
export const ASSEMBLY_TAKEN = 'assembly-taken';

interface Late {
  readonly frame: Buffer;
  readonly holder: number;
  settled: boolean;
  verdict: Buffer | undefined;
}

/**
 * Why a frame stream stopped and what it waits for: a stage's late verdict, or room in the memory
 * budget for an assembly. Kept apart from the stream's hot loop, which only reads `state`.
 */
export class StreamStop {
  state = RUNNING;
  private late: Late | undefined;
  /** The bytes a blocked assembly needs, and whether the budget already took them (whenReady reserved). */
  private blockedBytes = 0;
  private reserved = false;
  private readyCallback: (() => void) | undefined;

  constructor(private readonly account: HoldAccount | undefined) {}

  /** Stops at `frame`, held by `stage` (at `holder`), which answered PENDING. */
  awaitVerdict(frame: Buffer, holder: number, stage: FrameStage): void {
    if (stage.whenSettled === undefined) throw new InvariantError('a stage answered PENDING without whenSettled');
    const late: Late = { frame, holder, settled: false, verdict: undefined };
    this.late = late;
    this.state = AWAITING_VERDICT;
    stage.whenSettled((verdict) => {
      late.settled = true;
      late.verdict = verdict;
      const ready = this.readyCallback;
      this.readyCallback = undefined;
      ready?.();
    });
  }

  /** Stops before assembling a frame of `bytes` the budget cannot take now. */
  awaitBudget(bytes: number): void {
    this.state = AWAITING_BUDGET;
    this.blockedBytes = bytes;
    this.reserved = false;
  }

  /** Calls back once the stream may leave the stop (at once, in a microtask, if it may now). */
  whenReady(callback: () => void): void {
    if (this.state === AWAITING_VERDICT && this.late?.settled !== true) this.readyCallback = callback;
    else if (this.state === AWAITING_BUDGET && !this.reserved) this.retryBudget(callback);
    else queueMicrotask(callback);
  }

  /** Leaves the stop if it may now: the settled frame, or ASSEMBLY_TAKEN; undefined while it must wait (or was not stopped). */
  leave(): Settled | typeof ASSEMBLY_TAKEN | undefined {
    if (this.state === AWAITING_VERDICT) {
      const late = this.late;
      if (late?.settled !== true) return undefined;
      this.state = RUNNING;
      this.late = undefined;
      return { holder: late.holder, goesOn: late.verdict ?? late.frame };
    }
    if (this.state !== AWAITING_BUDGET) return undefined;
    if (!this.reserved && this.account !== undefined && !this.account.tryReserve(this.blockedBytes)) return undefined;
    this.reserved = false;
    this.state = RUNNING;
    return ASSEMBLY_TAKEN;
  }

  /** The stream is given up: what the budget took for a blocked assembly goes back. */
  abandon(): void {
    if (this.reserved) this.account?.release(this.blockedBytes);
    this.reserved = false;
  }

  private retryBudget(callback: () => void): void {
    const account = this.account;
    if (account === undefined) {
      queueMicrotask(callback);
      return;
    }
    account.whenReleased(() => {
      if (this.state !== AWAITING_BUDGET) return;
      if (!account.tryReserve(this.blockedBytes)) {
        this.retryBudget(callback);
        return;
      }
      this.reserved = true;
      callback();
    });
  }
}
