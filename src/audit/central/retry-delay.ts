/**
 * How long the shipper waits before trying the central store again: doubling from 1 s to 15 s,
 * each wait drawn at random from its upper half ("equal jitter"). A fleet that lost the store at
 * the same moment would otherwise come back at the same moments, every gateway at once.
 */
export class RetryDelay {
  private next: number;

  constructor(
    private readonly firstMs = 1000,
    private readonly maxMs = 15_000,
    private readonly random: () => number = Math.random,
  ) {
    this.next = firstMs;
  }

  /** The wait before the next try; each call doubles the one after (up to the maximum). */
  take(): number {
    const ms = this.next;
    this.next = Math.min(ms * 2, this.maxMs);
    return ms / 2 + this.random() * (ms / 2);
  }

  /** The store answered: the next failure starts from the first delay again. */
  reset(): void {
    this.next = this.firstMs;
  }
}
