import { AccessError } from '../access-error.js';
import type { SessionLimits } from '../config/gateway-config.js';
import { entryName } from '../policy/entry-name.js';
import type { SessionGrant } from '../policy/session-grant.js';

/** Which session limit refused a login, as its configuration key names it. */
export type SessionLimitKey = 'max-sessions-per-identity' | 'max-sessions';

/** Gives a slot back (once; later calls do nothing). */
export type ReleaseSlot = () => void;

/**
 * Counts sessions per identity and per identity-map entry from the moment a login is admitted —
 * before the upstream login, so two logins at once cannot both take the last slot — to the
 * session's end. Counts are per gateway process.
 */
export class SessionSlots {
  private readonly perIdentity = new Map<string, number>();
  private readonly perMapping = new Map<number, number>();

  /**
   * Takes a slot for this grant, or refuses with 53300 naming the limit that is full (told to
   * `refused` first, as its configuration key, for the metrics).
   */
  acquire(grant: SessionGrant, limits: SessionLimits, refused: (limit: SessionLimitKey) => void = () => undefined): ReleaseSlot {
    const identity = grant.identity.objectId;
    const mapping = grant.rule.index;
    const identityCount = this.perIdentity.get(identity) ?? 0;
    const mappingCount = this.perMapping.get(mapping) ?? 0;
    const subject = { objectId: grant.identity.objectId, appId: grant.identity.appId };
    if (limits.maxSessionsPerIdentity !== undefined && identityCount >= limits.maxSessionsPerIdentity) {
      refused('max-sessions-per-identity');
      throw new AccessError(
        'session-limit',
        `too many sessions for this identity: the limit is ${limits.maxSessionsPerIdentity} (limits max-sessions-per-identity)`,
        undefined,
        undefined,
        subject,
      );
    }
    const mappingMax = grant.rule.limits.maxSessions;
    if (mappingMax !== undefined && mappingCount >= mappingMax) {
      refused('max-sessions');
      throw new AccessError(
        'session-limit',
        `too many sessions through identity-map entry ${entryName(grant.rule)}: the limit is ${mappingMax} (identity-map[${mapping}].limits.max-sessions)`,
        undefined,
        undefined,
        subject,
      );
    }
    this.perIdentity.set(identity, identityCount + 1);
    this.perMapping.set(mapping, mappingCount + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      decrement(this.perIdentity, identity);
      decrement(this.perMapping, mapping);
    };
  }
}

function decrement<K>(counts: Map<K, number>, key: K): void {
  const next = (counts.get(key) ?? 1) - 1;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
