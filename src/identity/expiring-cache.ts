import { LRUCache } from 'lru-cache';

/**
 * Answers reused for a while, with concurrent asks for the same key sharing one load (a reconnect
 * storm makes one Graph call, not hundreds). Failures are not kept. Bounded: the least recently
 * used entry goes when it is full. lru-cache does the keeping; an answer may itself be `undefined`
 * (a deleted service principal), so each is boxed.
 */
export class ExpiringCache<V> {
  private readonly cache: LRUCache<string, { readonly value: V }, () => Promise<V>>;

  constructor(
    private readonly ttlMs: number,
    maxEntries = 10_000,
  ) {
    this.cache = new LRUCache({
      max: maxEntries,
      // lru-cache reads 0 as "forever": with a zero lifetime each answer is dropped once given.
      ttl: Math.max(1, ttlMs),
      fetchMethod: async (_key, _stale, { context }) => ({ value: await context() }),
    });
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const boxed = await this.cache.fetch(key, { context: load });
    if (this.ttlMs <= 0) this.cache.delete(key);
    // fetchMethod always answers with a box or throws; an aborted fetch (never asked for here) would be undefined.
    return (boxed as { readonly value: V }).value;
  }
}
