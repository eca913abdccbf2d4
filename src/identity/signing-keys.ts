import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AccessError } from '../access-error.js';
import type { Logger } from '../logging/logger.js';
import type { EntraHttp } from './entra-http.js';
import { errorMessage } from '../idgate-error.js';
import { HttpError } from './entra-http.js';

export interface SigningKeysOptions {
  /** How often the key set is fetched again even when every kid is known. */
  readonly refreshMs: number;
  /** The least time between two fetches caused by an unknown kid (a stranger's kid must not cause a fetch storm). */
  readonly cooldownMs: number;
}

/**
 * The tenant's signing keys. A token naming an unknown `kid` causes a fetch (at most once per
 * cooldown), so a new key is picked up at once; the set is also fetched again every refresh
 * interval, and keys that disappeared are announced, so the verified-token cache and live
 * sessions signed with them can be dropped: a removed key stops verifying after the next refresh.
 *
 * jose verifies (createLocalJWKSet); the fetching is ours rather than createRemoteJWKSet's, which
 * does three things differently here: a failed refresh of an expired set fails every login (this
 * keeps the last set and says so), it cannot tell which keys left (sessions signed with a removed
 * key must end), and it fetches with its own client, not the Entra client that carries the
 * configured CA, timeout and proxy.
 */
export class SigningKeys {
  private local: JWTVerifyGetKey | undefined;
  private kids = new Set<string>();
  private fetchedAt = 0;
  private fetching: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly removedListeners: ((kids: ReadonlySet<string>) => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly http: EntraHttp,
    private readonly options: SigningKeysOptions,
    private readonly logger?: Logger,
  ) {}

  /** For jose's jwtVerify. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const age = Date.now() - this.fetchedAt;
    const unknownKid = header.kid !== undefined && !this.kids.has(header.kid);
    if (this.local === undefined || age >= this.options.refreshMs || (unknownKid && age >= this.options.cooldownMs)) {
      await this.refresh().catch((e: unknown) => {
        // With a key set in hand, a failed refresh keeps it; with none, nothing can verify.
        if (this.local === undefined) throw e;
        this.logger?.warn({ err: errorMessage(e) }, 'signing keys could not be refreshed; keeping the previous set');
      });
    }
    if (this.local === undefined) throw new AccessError('signing-keys-unavailable', "the tenant's signing keys could not be fetched");
    return this.local(header, token);
  };

  /** Whether a key set is in hand (tokens can be verified). */
  get loaded(): boolean {
    return this.local !== undefined;
  }

  /** Refreshes on a timer too, so removals are noticed without a login to trigger them. */
  startRefreshing(): void {
    this.timer ??= setInterval(() => {
      this.refresh().catch((e: unknown) => this.logger?.warn({ err: errorMessage(e) }, 'signing keys could not be refreshed'));
    }, this.options.refreshMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  onRemoved(listener: (kids: ReadonlySet<string>) => void): void {
    this.removedListeners.push(listener);
  }

  /** Fetches the key set now (concurrent callers share one fetch). */
  refresh(): Promise<void> {
    this.fetching ??= this.fetch().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetch(): Promise<void> {
    let set: JSONWebKeySet;
    try {
      const response = await this.http.get(this.url);
      if (response.status !== 200) throw new HttpError('status', `HTTP ${response.status}`);
      set = parseKeySet(response.body);
    } catch (e) {
      this.fetchedAt = Date.now(); // the cooldown also spaces out retries against a failing endpoint
      throw new AccessError('signing-keys-unavailable', "the tenant's signing keys could not be fetched", undefined, errorMessage(e));
    }
    const kids = new Set(set.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string'));
    const removed = new Set([...this.kids].filter((k) => !kids.has(k)));
    this.local = createLocalJWKSet(set);
    this.kids = kids;
    this.fetchedAt = Date.now();
    if (removed.size > 0) {
      this.logger?.info({ removed: [...removed] }, 'signing keys removed from the tenant key set');
      for (const listener of this.removedListeners) listener(removed);
    }
  }
}

function parseKeySet(body: string): JSONWebKeySet {
  const value: unknown = JSON.parse(body);
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new HttpError('bad-body', 'not a JSON Web Key Set');
  }
  return value as JSONWebKeySet;
}
