import { ConfigError } from '../config/config-error.js';
import type { GatewayConfig, MappingRule } from '../config/gateway-config.js';
import { GraphUnavailableError, type GraphClient } from './graph-client.js';
import { errorMessage } from '../idgate-error.js';

/**
 * Turns `entra-group: <display name>` entries into the group object ids tokens carry, through
 * Graph. A name no group has, or several groups share, is a configuration error naming the entry:
 * guessing would grant the wrong people a connection. Graph not answering is not the
 * configuration's fault and is not reported as if it were (GraphUnavailableError, not ConfigError).
 */
export async function resolveGroupNames(config: GatewayConfig, graph: GraphClient | undefined): Promise<GatewayConfig> {
  const named = config.identityMap.filter((r) => r.match.kind === 'entra-group' && r.match.groupName !== undefined);
  if (named.length === 0) return config;
  if (graph === undefined) {
    throw new ConfigError(
      config.source,
      named.map((r) => ({ key: keyOf(r), message: 'a group display name needs entra.graph to be resolved' })),
    );
  }
  const problems: { key: string; message: string }[] = [];
  const resolved = new Map<string, string>();
  for (const name of new Set(named.map(nameOf))) {
    try {
      const groups = await graph.groupsNamed(name);
      if (groups.length === 1 && groups[0] !== undefined) resolved.set(name, groups[0].id);
      else {
        const message =
          groups.length === 0
            ? `no Entra group is named "${name}"`
            : `${groups.length} Entra groups are named "${name}" (${groups.map((g) => g.id).join(', ')}): use the object id`;
        for (const r of named.filter((r) => nameOf(r) === name)) problems.push({ key: keyOf(r), message });
      }
    } catch (e) {
      throw new GraphUnavailableError(
        `Microsoft Graph could not be asked which groups the identity-map's names (${[...new Set(named.map(nameOf))].map((n) => `"${n}"`).join(', ')}) are: ${errorMessage(e)}. Nothing in ${config.source} is wrong; it is read again once Graph answers.`,
        { cause: e },
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(config.source, problems);
  const identityMap = config.identityMap.map((r): MappingRule => {
    if (r.match.kind !== 'entra-group' || r.match.groupName === undefined) return r;
    return { ...r, match: { kind: 'entra-group', groupName: r.match.groupName, groupId: resolved.get(r.match.groupName) ?? '' } };
  });
  return { ...config, identityMap };
}

function nameOf(rule: MappingRule): string {
  return rule.match.kind === 'entra-group' ? (rule.match.groupName ?? '') : '';
}

function keyOf(rule: MappingRule): string {
  return `identity-map[${rule.index}].entra-group`;
}
