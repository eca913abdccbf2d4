import { AccessError } from '../access-error.js';
import type { GatewayConfig, MappingRule } from '../config/gateway-config.js';
import { isGuid } from '../config/schema.js';
import type { GraphClient, PrincipalInfo } from '../identity/graph-client.js';
import type { LiveRevocation } from '../identity/live-revocation.js';
import type { VerifiedIdentity } from '../identity/verified-identity.js';
import { grantConnection } from './identity-map.js';

/** One connection an identity can reach, and the identity-map entry that admits it. */
export interface ReachEntry {
  readonly connection: string;
  readonly rule: MappingRule;
}

export interface Reach {
  readonly principal: PrincipalInfo;
  /** Its groups (transitive) and its app roles on the gateway's API, as Graph has them now. */
  readonly groups: readonly string[];
  readonly roles: readonly string[];
  /** Per connection, the entry a login with a token issued now would be admitted by (none if disabled). */
  readonly entries: readonly ReachEntry[];
}

/**
 * What one identity can reach right now, and why: its service principal, groups and app roles as
 * Graph has them, judged by the same identity-map code a login is (grantConnection), connection by
 * connection. A disabled identity reaches nothing, as its logins are refused. Throws when Graph
 * cannot answer: no partial answer is presented as complete.
 */
export async function reachOf(
  id: string,
  config: GatewayConfig,
  graph: GraphClient,
  revocation: LiveRevocation,
): Promise<Reach | undefined> {
  const principal = await graph.principal(id);
  if (principal === undefined) return undefined;
  const groups = await graph.memberGroups(principal.objectId);
  const roles = new Set<string>();
  for (const audience of config.entra.audiences.filter(isGuid)) {
    for (const role of (await revocation.heldRoles(principal.objectId, audience)) ?? []) roles.add(role);
  }
  const identity: VerifiedIdentity = {
    objectId: principal.objectId,
    appId: principal.appId,
    tenantId: config.entra.tenantId,
    groups,
    roles: [...roles],
    ...(principal.displayName !== undefined ? { displayName: principal.displayName } : {}),
    expiresAt: 0,
    tokenVersion: '2.0',
    keyId: '',
    groupsOverage: false,
    audience: '',
  };
  const entries: ReachEntry[] = [];
  if (principal.accountEnabled) {
    for (const connection of config.connections.keys()) {
      try {
        const grant = grantConnection(identity, connection, config.connections, config.identityMap);
        entries.push({ connection, rule: grant.rule });
      } catch (e) {
        if (!(e instanceof AccessError)) throw e;
      }
    }
  }
  return { principal, groups, roles: [...roles], entries };
}
