import { createHash } from 'node:crypto';
import type { VerifiedIdentity } from './verified-identity.js';

/**
 * Remembers verified tokens by their SHA-256 until they expire, so a reconnect storm costs a hash,
 * not a signature check. Keyed by hash so the cache never holds a usable token.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedIdentity>();

  constructor(private readonly maxEntries = 10_000) {}

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
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, identity);
  }

  dropKeys(kids: ReadonlySet<string>): void {
    for (const [key, identity] of this.entries) if (kids.has(identity.keyId)) this.entries.delete(key);
  }
}
