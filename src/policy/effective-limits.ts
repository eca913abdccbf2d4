import type { LimitsConfig, SessionLimits } from '../config/gateway-config.js';
import type { SessionGrant } from './session-grant.js';

const KEYS = [
  'maxSessionsPerIdentity',
  'statementTimeoutMs',
  'idleInTransactionTimeoutMs',
  'idleTimeoutMs',
  'maxRows',
] as const satisfies readonly (keyof SessionLimits)[];

/**
 * The limits a session runs under, key by key: the identity's own entry (by app id, then object
 * id) wins, then the identity-map entry that admitted it, then the gateway's defaults.
 */
export function effectiveLimits(limits: LimitsConfig, grant: SessionGrant): SessionLimits {
  const own = limits.identities.get(grant.identity.appId.toLowerCase()) ?? limits.identities.get(grant.identity.objectId.toLowerCase());
  const levels = [own ?? {}, grant.rule.limits, limits.defaults];
  const out: { -readonly [K in keyof SessionLimits]: SessionLimits[K] } = {};
  for (const key of KEYS) {
    const value = levels.find((level) => level[key] !== undefined)?.[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
