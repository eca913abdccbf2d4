import type { CommandModule } from 'yargs';
import { entryName } from '../../policy/entry-name.js';
import type { MappingRule } from '../../config/gateway-config.js';
import { loadConfigFile, READ_ONLY } from '../../config/load-config.js';
import { createEntraServices } from '../../identity/entra-services.js';
import { resolveGroupNames } from '../../identity/resolve-group-names.js';
import { createLogger } from '../../logging/logger.js';
import { reachOf, type Reach } from '../../policy/reach.js';
import { table } from '../format.js';
import { configOption } from '../options/config-option.js';
import { errorMessage } from '../../idgate-error.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface ReachArgs {
  readonly config: string;
  readonly identity: string;
  readonly json: boolean;
}

export const reachCommand: CommandModule<object, ReachArgs> = {
  ...COMMAND_SUMMARIES.reach,
  builder: (y) =>
    y
      .positional('identity', { type: 'string', demandOption: true, describe: 'the application id or service principal object id' })
      .option('config', configOption)
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object' }),
  handler: async (args) => {
    const file = loadConfigFile(args.config, process.env, READ_ONLY);
    const entra = await createEntraServices(file.entra, createLogger('silent'));
    try {
      if (entra.graph === undefined || entra.revocation === undefined) {
        err('idgate reach needs entra.graph: the answer comes from the tenant, not from a token\n');
        process.exitCode = 2;
        return;
      }
      const config = await resolveGroupNames(file, entra.graph);
      const reach = await reachOf(args.identity, config, entra.graph, entra.revocation);
      if (reach === undefined) {
        err(`no service principal ${args.identity} in the tenant\n`);
        process.exitCode = 1;
        return;
      }
      out(args.json ? `${JSON.stringify(reachJson(reach))}\n` : reachText(reach));
    } catch (e) {
      err(`idgate reach: Graph could not answer (${errorMessage(e)}); nothing is reported rather than a partial answer\n`);
      process.exitCode = 1;
    } finally {
      entra.close();
    }
  },
};

function via(rule: MappingRule): string {
  return rule.match.kind === 'entra-group' ? `group ${rule.match.groupName ?? rule.match.groupId}` : `app role ${rule.match.role}`;
}

function reachJson(r: Reach): Record<string, unknown> {
  return {
    identity: {
      objectId: r.principal.objectId,
      appId: r.principal.appId,
      displayName: r.principal.displayName ?? null,
      enabled: r.principal.accountEnabled,
    },
    groups: r.groups,
    roles: r.roles,
    reaches: r.entries.map((e) => ({
      connection: e.connection,
      entry: entryName(e.rule),
      via:
        e.rule.match.kind === 'entra-group'
          ? { group: e.rule.match.groupId, groupName: e.rule.match.groupName ?? null }
          : { appRole: e.rule.match.role },
      scope: e.rule.scope,
      record: e.rule.record,
    })),
  };
}

function reachText(r: Reach): string {
  const who = `${r.principal.displayName ?? '(no display name)'} (app ${r.principal.appId}, object ${r.principal.objectId})`;
  if (!r.principal.accountEnabled) return `${who}: DISABLED in Entra — every login is refused, whatever its groups and roles\n`;
  if (r.entries.length === 0) return `${who}: enabled, reaches no connection\n`;
  return `${who}: enabled\n${table(
    ['connection', 'entry', 'via', 'scope', 'record'],
    r.entries.map((e) => [e.connection, entryName(e.rule), via(e.rule), e.rule.scope, String(e.rule.record)]),
  )}\n`;
}
