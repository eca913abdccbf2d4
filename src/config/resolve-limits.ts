import type { LimitsConfig, SessionLimits } from './gateway-config.js';
import type { RawConfig } from './schema.js';
import { parseDurationMs } from './duration.js';

type RawLimits = Omit<RawConfig['limits'], 'identities'>;

/** A schema-checked duration (seconds, or a number with a unit: duration.ts) in milliseconds. */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return Math.round(value * 1000);
  return parseDurationMs(value) ?? 0;
}

/** One level's limits as the gateway uses them. */
export function sessionLimits(raw: RawLimits): SessionLimits {
  const out: { -readonly [K in keyof SessionLimits]: SessionLimits[K] } = {};
  if (raw['max-sessions-per-identity'] !== undefined) out.maxSessionsPerIdentity = raw['max-sessions-per-identity'];
  if (raw['statement-timeout'] !== undefined) out.statementTimeoutMs = durationMs(raw['statement-timeout']);
  if (raw['idle-in-transaction-timeout'] !== undefined) out.idleInTransactionTimeoutMs = durationMs(raw['idle-in-transaction-timeout']);
  if (raw['idle-timeout'] !== undefined) out.idleTimeoutMs = durationMs(raw['idle-timeout']);
  if (raw['max-rows'] !== undefined) out.maxRows = raw['max-rows'];
  return out;
}

export function resolveLimits(raw: RawConfig['limits']): LimitsConfig {
  const { identities, ...defaults } = raw;
  return {
    defaults: sessionLimits(defaults),
    identities: new Map(identities.map(({ identity, ...limits }) => [identity.toLowerCase(), sessionLimits(limits)])),
  };
}
