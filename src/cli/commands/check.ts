import type { CommandModule } from 'yargs';
import { checkUpstream } from '../../../protocols/postgres/index.js';
import { loadConfigFile } from '../../config/load-config.js';
import { configOption } from './config-option.js';

interface CheckArgs {
  readonly config: string;
  readonly connect: boolean;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'validate the configuration; with --connect, log in to each upstream with its credential',
  builder: (y) =>
    y.option('config', configOption).option('connect', { type: 'boolean', default: false, describe: 'try each upstream connection' }),
  handler: async (args) => {
    const config = loadConfigFile(args.config);
    process.stdout.write(`${args.config}: valid (${config.connections.size} connections, ${config.identityMap.length} identity-map entries)\n`);
    if (!args.connect) return;
    let failed = 0;
    for (const connection of config.connections.values()) {
      const problem = await checkUpstream(connection);
      if (problem === undefined) process.stdout.write(`connection ${connection.name}: ok (${connection.host}:${connection.port}/${connection.database})\n`);
      else {
        failed += 1;
        process.stdout.write(`connection ${connection.name}: FAILED: ${problem}\n`);
      }
    }
    if (failed > 0) process.exitCode = 1;
  },
};
