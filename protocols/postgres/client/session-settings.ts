import type { SessionLimits } from '../../../src/config/gateway-config.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';

/**
 * The settings that tell the database who the agent is and bound what it may run: the agent's
 * name first in `application_name` (so Postgres's 63-byte cut keeps it), its identity in
 * `idgate.*` for RLS policies, triggers and pgAudit, and the configured timeouts — the client's
 * own value kept only when it is stricter.
 */
export function gatewaySettings(
  sessionId: string,
  grant: SessionGrant,
  limits: SessionLimits,
  clientSettings: readonly (readonly [string, string])[],
): Map<string, string> {
  const { identity } = grant;
  const displayName = safeDisplayName(grant);
  const settings = new Map<string, string>([
    ['application_name', pinnedApplicationName(grant, lastValue(clientSettings, 'application_name'))],
    ['idgate.identity_oid', identity.objectId],
    ['idgate.app_id', identity.appId],
    ['idgate.display_name', displayName ?? ''],
    ['idgate.session_id', sessionId],
  ]);
  const timeouts: [string, number | undefined][] = [
    ['statement_timeout', limits.statementTimeoutMs],
    ['idle_in_transaction_session_timeout', limits.idleInTransactionTimeoutMs],
  ];
  for (const [name, limitMs] of timeouts) {
    if (limitMs === undefined) continue;
    const asked = timeMs(lastValue(clientSettings, name));
    settings.set(name, `${asked !== undefined && asked > 0 && asked < limitMs ? asked : limitMs}ms`);
  }
  return settings;
}

/** The display name from the token without control characters (a NUL above all), which never reach the server. */
function safeDisplayName(grant: SessionGrant): string | undefined {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return grant.identity.displayName?.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** The agent's name first, then what the client asked for (at login or by a later SET application_name). */
export function pinnedApplicationName(grant: SessionGrant, asked: string | undefined): string {
  const agent = safeDisplayName(grant) ?? grant.identity.appId;
  return asked === undefined || asked === '' ? agent : `${agent} | ${asked}`;
}

/** The names of the settings above that a parsed scope must not let the agent change. */
export function managedSettingNames(settings: ReadonlyMap<string, string>): ReadonlySet<string> {
  return new Set(settings.keys());
}

function lastValue(settings: readonly (readonly [string, string])[], name: string): string | undefined {
  let value: string | undefined;
  for (const [n, v] of settings) if (n === name) value = v;
  return value;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A Postgres time setting's value in milliseconds (its default unit), or undefined when it is not one. */
export function timeMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value);
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
}
