import type { MappingMatch, MappingRule } from '../config/gateway-config.js';

/**
 * The one way every listing, log line and audit record names an identity-map entry: its `name`
 * when the config gives one, else `#N` — its position, counted from 0 as configuration errors
 * count it (`identity-map[N]`) — and what it matches, as the config wrote it.
 */
export function entryName(rule: Pick<MappingRule, 'index' | 'name' | 'match'>): string {
  return rule.name ?? `#${rule.index} ${matchText(rule.match, true)}`;
}

/**
 * What the audit log keeps for the entry that admitted a session: its name, and the group id or
 * role it matched (a group named in the config is kept by its id too, since names can change).
 */
export function entryRecord(rule: Pick<MappingRule, 'index' | 'name' | 'match'>): string {
  const name = entryName(rule);
  const matched = matchText(rule.match, false);
  return name.endsWith(matched) ? name : `${name} (${matched})`;
}

function matchText(match: MappingMatch, asConfigured: boolean): string {
  if (match.kind === 'entra-app-role') return `entra-app-role:${match.role}`;
  return `entra-group:${asConfigured ? (match.groupName ?? match.groupId) : match.groupId}`;
}
