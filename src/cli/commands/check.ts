import type { CommandModule } from 'yargs';
import { parseScope } from '../../config/scope.js';
import type { GatewayConfig } from '../../config/gateway-config.js';
import { loadConfigFile } from '../../config/load-config.js';
import { createEntraServices, type EntraServices } from '../../identity/entra-services.js';
import { resolveGroupNames } from '../../identity/resolve-group-names.js';
import { createLogger } from '../../logging/logger.js';
import { widerThanScopes } from '../../policy/wider-privileges.js';
import { configOption } from '../options/config-option.js';
import { errorMessage } from '../../idgate-error.js';
import type { WireProtocol } from '../../protocol.js';

interface CheckArgs {
  readonly config: string;
  readonly connect: boolean;
}

export function checkCommand(protocol: WireProtocol): CommandModule<object, CheckArgs> {
  return {
    command: 'check',
    describe:
      'validate the configuration; with --connect, ask Graph what the gateway will ask it (and resolve group names), log in to each upstream and warn where its role may do more than its scopes',
    builder: (y) =>
      y
        .option('config', configOption)
        .option('connect', { type: 'boolean', default: false, describe: 'try Graph and each upstream connection' }),
    handler: async (args) => {
      const config = loadConfigFile(args.config);
      process.stdout.write(
        `${args.config}: valid (${config.connections.size} connections, ${config.identityMap.length} identity-map entries)\n`,
      );
      if (!args.connect) return;
      const entra = createEntraServices(config.entra, createLogger('silent'));
      try {
        const graphOk = await checkGraph(config, entra);
        const failed = await checkConnections(protocol, graphOk.config, entra);
        if (failed > 0 || !graphOk.ok) process.exitCode = 1;
      } finally {
        entra.close();
      }
    },
  };
}

/** The gateway's own service principal through Graph (proves the credential and Application.Read.All), then group names. */
async function checkGraph(config: GatewayConfig, entra: EntraServices): Promise<{ ok: boolean; config: GatewayConfig }> {
  const identity = config.entra.gatewayIdentity;
  if (entra.graph === undefined || identity === undefined) {
    process.stdout.write('graph: not configured (a disabled identity keeps access until its token expires)\n');
    return { ok: true, config };
  }
  try {
    // A system-assigned managed identity has no client id here: looking up an id no one has proves the permission (404, not 403).
    const self = await entra.graph.servicePrincipal(identity.clientId ?? '00000000-0000-0000-0000-000000000000');
    if (identity.clientId === undefined) process.stdout.write('graph: ok (Application.Read.All granted)\n');
    else process.stdout.write(`graph: ok (the gateway's service principal ${self?.objectId ?? '(not found)'} is visible)\n`);
    const resolved = await resolveGroupNames(config, entra.graph);
    for (const rule of resolved.identityMap) {
      if (rule.match.kind === 'entra-group' && rule.match.groupName !== undefined) {
        process.stdout.write(`identity-map[${rule.index}]: group "${rule.match.groupName}" is ${rule.match.groupId}\n`);
      }
    }
    return { ok: self !== undefined || identity.clientId === undefined, config: resolved };
  } catch (e) {
    process.stdout.write(`graph: FAILED: ${errorMessage(e)}\n`);
    return { ok: false, config };
  }
}

async function checkConnections(protocol: WireProtocol, config: GatewayConfig, entra: EntraServices): Promise<number> {
  let failed = 0;
  for (const connection of config.connections.values()) {
    const problem = await protocol.checkUpstream(connection, entra.upstreamPasswords);
    if (problem === undefined) {
      process.stdout.write(`connection ${connection.name}: ok (${connection.host}:${connection.port}/${connection.database})\n`);
      const rules = config.identityMap.filter((r) => r.connection === connection.name);
      if (rules.some((r) => !parseScope(r.scope, connection.searchPath).all)) {
        const scoped = await protocol.checkScopedUpstream(connection, entra.upstreamPasswords);
        if (scoped !== undefined) process.stdout.write(`connection ${connection.name}: WARNING: ${scoped}\n`);
      }
      for (const warning of widerThanScopes(
        await protocol.readRolePowers(connection, entra.upstreamPasswords),
        rules,
        connection.searchPath,
      )) {
        process.stdout.write(`connection ${connection.name}: WARNING: ${warning}\n`);
      }
    } else {
      failed += 1;
      process.stdout.write(`connection ${connection.name}: FAILED: ${problem}\n`);
    }
  }
  return failed;
}
