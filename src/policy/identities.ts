import type { GatewayConfig, MappingRule } from '../config/gateway-config.js';
import { isGuid } from '../config/schema.js';
import type { GraphClient, PrincipalInfo } from '../identity/graph-client.js';

/** An identity the identity-map lists, through its groups or app roles, with the entries that list it. */
export interface ListedIdentity {
  readonly principal: PrincipalInfo;
  readonly entries: MappingRule[];
}

/**
 * Every identity that can reach a connection: the service principals in each mapped group
 * (transitively) and the holders of each mapped app role on the gateway's API, from Graph, every
 * page. Throws when Graph cannot answer in full: a partial census is not presented as complete.
 */
export async function listedIdentities(config: GatewayConfig, graph: GraphClient): Promise<ListedIdentity[]> {
  const listed = new Map<string, ListedIdentity>();
  const list = (principal: PrincipalInfo, rule: MappingRule): void => {
    const known = listed.get(principal.objectId);
    if (known === undefined) listed.set(principal.objectId, { principal, entries: [rule] });
    else if (!known.entries.includes(rule)) known.entries.push(rule);
  };
  const groupMembers = new Map<string, PrincipalInfo[]>();
  const holders = await roleHolders(config, graph);
  for (const rule of config.identityMap) {
    if (rule.match.kind === 'entra-group') {
      const id = rule.match.groupId;
      if (!groupMembers.has(id)) groupMembers.set(id, await graph.groupServicePrincipals(id));
      for (const p of groupMembers.get(id) ?? []) list(p, rule);
    } else {
      for (const p of holders.get(rule.match.role) ?? []) list(p, rule);
    }
  }
  return [...listed.values()];
}

/** Role value → its holders, over every audience that is the API's client id. */
async function roleHolders(config: GatewayConfig, graph: GraphClient): Promise<Map<string, PrincipalInfo[]>> {
  const byRole = new Map<string, PrincipalInfo[]>();
  const principals = new Map<string, PrincipalInfo | undefined>();
  for (const audience of config.entra.audiences.filter(isGuid)) {
    const api = await graph.apiAppRoles(audience);
    if (api === undefined) continue;
    const roleValue = new Map([...api.roles].map(([value, id]) => [id.toLowerCase(), value]));
    for (const holder of await graph.appRoleHolders(api.objectId)) {
      const value = roleValue.get(holder.appRoleId);
      if (value === undefined) continue;
      if (!principals.has(holder.principalId)) principals.set(holder.principalId, await graph.principal(holder.principalId));
      const principal = principals.get(holder.principalId);
      if (principal !== undefined) byRole.set(value, [...(byRole.get(value) ?? []), principal]);
    }
  }
  return byRole;
}
