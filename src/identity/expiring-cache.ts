/**
 * Answers reused for a while, with concurrent asks for the same key sharing one load (a reconnect
 * storm makes one Graph call, not hundreds). Failures are not kept. Bounded: the oldest entry
 * goes when it is full.
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly until: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.until > Date.now()) return Promise.resolve(hit.value);
    const pending = this.loading.get(key);
    if (pending !== undefined) return pending;
    const started = load()
      .then((value) => {
        this.remember(key, value);
        return value;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, started);
    return started;
  }

  private remember(key: string, value: V): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }
}
