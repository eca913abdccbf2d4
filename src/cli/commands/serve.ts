import type { CommandModule } from 'yargs';
import { postgresProtocol } from '../../../protocols/postgres/index.js';
import { loadConfigFile } from '../../config/load-config.js';
import { startGateway } from '../../gateway.js';
import { createLogger } from '../../logging/logger.js';
import { runUntilSignal } from '../run-until-signal.js';
import { configOption } from './config-option.js';

interface ServeArgs {
  readonly config: string;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the gateway (JSON logs on stdout); SIGTERM/SIGINT drain and stop it',
  builder: (y) => y.option('config', configOption),
  handler: async (args) => {
    const config = loadConfigFile(args.config);
    const logger = createLogger(config.logLevel);
    const gateway = await startGateway(config, postgresProtocol, { logger });
    await runUntilSignal(() => gateway.shutdown());
  },
};
