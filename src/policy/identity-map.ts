import { AccessError } from '../access-error.js';
import type { ConnectionConfig, MappingRule } from '../config/gateway-config.js';
import type { VerifiedIdentity } from '../identity/verified-identity.js';
import type { SessionGrant } from './session-grant.js';

/** True when the identity carries the group or app role the rule names. */
export function ruleMatches(rule: MappingRule, identity: VerifiedIdentity): boolean {
  switch (rule.match.kind) {
    case 'entra-group':
      return rule.match.groupId !== '' && identity.groups.includes(rule.match.groupId);
    case 'entra-app-role':
      return identity.roles.includes(rule.match.role);
  }
}

/**
 * Finds the identity-map entry that admits this identity to the requested connection. Entries are
 * tried in file order and the first that matches wins, as in pg_hba.conf, so an operator can read
 * the outcome off the file.
 */
export function grantConnection(
  identity: VerifiedIdentity,
  connectionName: string,
  connections: ReadonlyMap<string, ConnectionConfig>,
  rules: readonly MappingRule[],
): SessionGrant {
  const connection = connections.get(connectionName);
  if (connection === undefined) {
    throw new AccessError('unknown-connection', `connection "${connectionName}" does not exist on this gateway`);
  }
  const rule = rules.find((r) => r.connection === connectionName && ruleMatches(r, identity));
  if (rule === undefined) {
    throw new AccessError(
      'not-mapped',
      `identity ${identity.objectId} is not granted connection "${connectionName}"`,
      'no identity-map entry matches the groups or app roles in the token',
      undefined,
      { objectId: identity.objectId, appId: identity.appId },
    );
  }
  return { identity, rule, connection };
}
