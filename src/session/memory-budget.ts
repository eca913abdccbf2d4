/**
 * The bytes the gateway holds for all sessions together while it assembles messages it must read
 * whole (a statement a scope judges, a frame the recorder stores). Past the budget, sessions stop
 * reading their clients — except one already assembling a message, which must finish it to give
 * its bytes back — until enough is released. Holding back before the process grows is the point:
 * without it, many agents sending large messages at once grow the gateway without bound.
 */
export class MemoryBudget {
  private held = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limitBytes: number) {}

  get over(): boolean {
    return this.held > this.limitBytes;
  }

  get heldBytes(): number {
    return this.held;
  }

  reserve(bytes: number): void {
    this.held += bytes;
  }

  release(bytes: number): void {
    this.held -= bytes;
    if (this.held <= this.limitBytes && this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Calls back once the held bytes are within the budget (at once if they are). */
  whenUnder(callback: () => void): void {
    if (!this.over) callback();
    else this.waiters.push(callback);
  }
}
