import type { CommandModule } from 'yargs';
import { checkUpstream, readRolePowers } from '../../../protocols/postgres/index.js';
import { widerThanScopes } from '../../policy/wider-privileges.js';
import { loadConfigFile } from '../../config/load-config.js';
import { configOption } from './config-option.js';

interface CheckArgs {
  readonly config: string;
  readonly connect: boolean;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'validate the configuration; with --connect, log in to each upstream and warn where its role may do more than its scopes',
  builder: (y) =>
    y.option('config', configOption).option('connect', { type: 'boolean', default: false, describe: 'try each upstream connection' }),
  handler: async (args) => {
    const config = loadConfigFile(args.config);
    process.stdout.write(`${args.config}: valid (${config.connections.size} connections, ${config.identityMap.length} identity-map entries)\n`);
    if (!args.connect) return;
    let failed = 0;
    for (const connection of config.connections.values()) {
      const problem = await checkUpstream(connection);
      if (problem === undefined) {
        process.stdout.write(`connection ${connection.name}: ok (${connection.host}:${connection.port}/${connection.database})\n`);
        const rules = config.identityMap.filter((r) => r.connection === connection.name);
        for (const warning of widerThanScopes(await readRolePowers(connection), rules, connection.searchPath)) {
          process.stdout.write(`connection ${connection.name}: WARNING: ${warning}\n`);
        }
      } else {
        failed += 1;
        process.stdout.write(`connection ${connection.name}: FAILED: ${problem}\n`);
      }
    }
    if (failed > 0) process.exitCode = 1;
  },
};
