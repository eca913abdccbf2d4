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
  describe: 'run the gateway (JSON logs on stdout); SIGHUP reloads connections and identity-map; SIGTERM/SIGINT drain and stop it',
  builder: (y) => y.option('config', configOption),
  handler: async (args) => {
    const config = loadConfigFile(args.config);
    const logger = createLogger(config.logLevel);
    const gateway = await startGateway(config, postgresProtocol, { logger });
    const onHangup = (): void => {
      // A bad file, or one that changes what needs a restart, leaves the configuration in force untouched.
      Promise.resolve()
        .then(() => gateway.reload(loadConfigFile(args.config)))
        .catch((e: unknown) => logger.error({ err: e instanceof Error ? e.message : String(e) }, 'configuration not reloaded'));
    };
    process.on('SIGHUP', onHangup);
    await runUntilSignal(() => gateway.shutdown());
    process.off('SIGHUP', onHangup);
  },
};
