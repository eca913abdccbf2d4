import type { CommandModule } from 'yargs';
import { ConfigError } from '../../config/config-error.js';
import { loadConfigFile } from '../../config/load-config.js';
import { createEntraServices } from '../../identity/entra-services.js';
import { createLogger } from '../../logging/logger.js';
import { checkConnected, checkText, reportFailed, type CheckReport } from '../check/check-report.js';
import { configOption } from '../options/config-option.js';
import type { WireProtocol } from '../../protocol.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface CheckArgs {
  readonly config: string;
  readonly connect: boolean;
  readonly json: boolean;
}

export function checkCommand(protocol: WireProtocol): CommandModule<object, CheckArgs> {
  return {
    ...COMMAND_SUMMARIES.check,
    builder: (y) =>
      y
        .option('config', configOption)
        .option('connect', { type: 'boolean', default: false, describe: 'try Graph and each upstream connection' })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'one JSON object: valid, problems, and with --connect graph and connections',
        }),
    handler: async (args) => {
      let config;
      try {
        config = loadConfigFile(args.config);
      } catch (e) {
        // A script reads the problems as data (exit status 2 as ever); a person reads them on stderr.
        if (!(args.json && e instanceof ConfigError)) throw e;
        out(`${JSON.stringify({ config: args.config, valid: false, problems: e.problems })}\n`);
        process.exitCode = 2;
        return;
      }
      const summary = {
        config: args.config,
        valid: true,
        connectionCount: config.connections.size,
        entryCount: config.identityMap.length,
      };
      if (!args.json) {
        out(`${args.config}: valid (${summary.connectionCount} connections, ${summary.entryCount} identity-map entries)\n`);
      }
      let report: CheckReport | undefined;
      if (args.connect) {
        const entra = await createEntraServices(config.entra, createLogger('silent'));
        try {
          report = await checkConnected(protocol, config, entra);
        } finally {
          entra.close();
        }
        if (!args.json) out(checkText(report));
        if (reportFailed(report)) process.exitCode = 1;
      }
      if (args.json) out(`${JSON.stringify({ ...summary, ...(report ?? {}) })}\n`);
    },
  };
}
