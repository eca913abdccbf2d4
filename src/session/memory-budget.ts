/**
 * The bytes the gateway holds for all sessions together while it assembles messages it must read
 * whole (a frame the recorder stores, a statement a scope judges). A session about to assemble a
 * message the budget cannot take stops reading its client at that message's body until enough is
 * released; sessions that need nothing held go on. Holding back before the process grows is the
 * point: without it, many agents sending large messages at once grow the gateway without bound.
 */
export class MemoryBudget {
  private held = 0;
  private releaseWaiters: (() => void)[] = [];

  constructor(readonly limitBytes: number) {}

  get heldBytes(): number {
    return this.held;
  }

  reserve(bytes: number): void {
    this.held += bytes;
  }

  /**
   * Counts the bytes if they fit within the budget — or if nothing at all is held, so that one
   * message larger than the budget can still pass, alone — and says whether it did.
   */
  tryReserve(bytes: number): boolean {
    if (this.held > 0 && this.held + bytes > this.limitBytes) return false;
    this.held += bytes;
    return true;
  }

  /** Calls back once, at the next release. */
  whenReleased(callback: () => void): void {
    this.releaseWaiters.push(callback);
  }

  release(bytes: number): void {
    this.held -= bytes;
    if (this.releaseWaiters.length > 0) {
      const waiters = this.releaseWaiters;
      this.releaseWaiters = [];
      // Not inside the releasing session's own read: each waiter runs on its own turn.
      for (const w of waiters) queueMicrotask(w);
    }
  }
}
