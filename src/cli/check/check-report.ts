import { parseScope } from '../../config/scope.js';
import type { ConnectionConfig, GatewayConfig } from '../../config/gateway-config.js';
import type { EntraServices } from '../../identity/entra-services.js';
import { resolveGroupNames } from '../../identity/resolve-group-names.js';
import { entryName } from '../../policy/entry-name.js';
import { widerThanScopes } from '../../policy/wider-privileges.js';
import { errorMessage } from '../../idgate-error.js';
import type { WireProtocol } from '../../protocol.js';

/** What `idgate check --connect` found: one report, printed as text or as JSON. */
export interface GraphCheck {
  /** `not-configured`: no live revocation (a disabled identity keeps access until its token expires). */
  readonly status: 'ok' | 'failed' | 'not-configured';
  readonly detail: string;
  /** Groups the identity-map names by display name, as Graph resolved them. */
  readonly groups: readonly { readonly entry: string; readonly name: string; readonly id: string }[];
}

export interface ConnectionCheck {
  readonly name: string;
  readonly target: string;
  readonly ok: boolean;
  /** Why the gateway could not log in (never the credential). */
  readonly problem?: string;
  /** Where the upstream role may do more than every scope mapped to it, and what scoped sessions will meet. */
  readonly warnings: readonly string[];
}

export interface CheckReport {
  readonly graph: GraphCheck;
  readonly connections: readonly ConnectionCheck[];
}

export function reportFailed(report: CheckReport): boolean {
  return report.graph.status === 'failed' || report.connections.some((c) => !c.ok);
}

export async function checkConnected(protocol: WireProtocol, config: GatewayConfig, entra: EntraServices): Promise<CheckReport> {
  const graph = await checkGraph(config, entra);
  const connections: ConnectionCheck[] = [];
  for (const connection of graph.config.connections.values()) {
    connections.push(await checkConnection(protocol, graph.config, entra, connection));
  }
  return { graph: graph.check, connections };
}

/** The gateway's own service principal through Graph (proves the credential and Application.Read.All), then group names. */
async function checkGraph(config: GatewayConfig, entra: EntraServices): Promise<{ check: GraphCheck; config: GatewayConfig }> {
  const identity = config.entra.gatewayIdentity;
  if (entra.graph === undefined || identity === undefined) {
    return { check: { status: 'not-configured', detail: 'a disabled identity keeps access until its token expires', groups: [] }, config };
  }
  try {
    // A system-assigned managed identity has no client id here: looking up an id no one has proves the permission (404, not 403).
    const self = await entra.graph.servicePrincipal(identity.clientId ?? '00000000-0000-0000-0000-000000000000');
    const resolved = await resolveGroupNames(config, entra.graph);
    const groups = resolved.identityMap.flatMap((rule) =>
      rule.match.kind === 'entra-group' && rule.match.groupName !== undefined
        ? [{ entry: entryName(rule), name: rule.match.groupName, id: rule.match.groupId }]
        : [],
    );
    const detail =
      identity.clientId === undefined
        ? 'Application.Read.All granted'
        : `the gateway's service principal ${self?.objectId ?? '(not found)'} is visible`;
    const ok = self !== undefined || identity.clientId === undefined;
    return { check: { status: ok ? 'ok' : 'failed', detail, groups }, config: resolved };
  } catch (e) {
    return { check: { status: 'failed', detail: errorMessage(e), groups: [] }, config };
  }
}

async function checkConnection(
  protocol: WireProtocol,
  config: GatewayConfig,
  entra: EntraServices,
  connection: ConnectionConfig,
): Promise<ConnectionCheck> {
  const name = connection.name;
  const target = `${connection.host}:${connection.port}/${connection.database}`;
  const problem = await protocol.checkUpstream(connection, entra.upstreamPasswords);
  if (problem !== undefined) return { name, target, ok: false, problem, warnings: [] };
  const warnings: string[] = [];
  const rules = config.identityMap.filter((r) => r.connection === name);
  if (rules.some((r) => !parseScope(r.scope, connection.searchPath).all)) {
    warnings.push(...(await protocol.checkScopedUpstream(connection, entra.upstreamPasswords)));
  }
  warnings.push(...widerThanScopes(await protocol.readRolePowers(connection, entra.upstreamPasswords), rules, connection.searchPath));
  return { name, target, ok: true, warnings };
}

/** The report as lines a person reads (the form `check --connect` always printed). */
export function checkText(report: CheckReport): string {
  const g = report.graph;
  const lines = [
    g.status === 'not-configured'
      ? `graph: not configured (${g.detail})`
      : `graph: ${g.status === 'ok' ? 'ok' : 'FAILED:'} ${g.status === 'ok' ? `(${g.detail})` : g.detail}`,
  ];
  for (const group of g.groups) lines.push(`group "${group.name}" (${group.entry}) is ${group.id}`);
  for (const c of report.connections) {
    if (!c.ok) lines.push(`connection ${c.name}: FAILED: ${c.problem ?? ''}`);
    else lines.push(`connection ${c.name}: ok (${c.target})`, ...c.warnings.map((w) => `connection ${c.name}: WARNING: ${w}`));
  }
  return `${lines.join('\n')}\n`;
}
