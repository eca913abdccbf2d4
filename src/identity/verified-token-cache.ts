import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { VerifiedIdentity } from './verified-identity.js';

/**
 * Remembers verified tokens by their SHA-256 until they expire, so a reconnect storm costs a hash,
 * not a signature check. Keyed by hash so the cache never holds a usable token. Bounded (least
 * recently used first, by lru-cache); an entry is good until its token's `exp`, checked at each
 * use against the caller's clock (the allowed skew included).
 */
export class VerifiedTokenCache {
  private readonly entries: LRUCache<string, VerifiedIdentity>;

  constructor(maxEntries = 10_000) {
    this.entries = new LRUCache({ max: maxEntries });
  }

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64');
  }

  get(key: string, nowSeconds: number): VerifiedIdentity | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.expiresAt <= nowSeconds) {
      this.entries.delete(key);
      return undefined;
    }
    return hit;
  }

  set(key: string, identity: VerifiedIdentity): void {
    this.entries.set(key, identity);
  }

  /** Forgets every token signed with one of these keys (the tenant removed them). */
  dropKeys(kids: ReadonlySet<string>): void {
    const signedWith = [...this.entries.entries()].filter(([, identity]) => kids.has(identity.keyId)).map(([key]) => key);
    for (const key of signedWith) this.entries.delete(key);
  }
}
