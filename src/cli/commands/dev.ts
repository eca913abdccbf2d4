import type { CommandModule } from 'yargs';
import { DEV_CONNECTION, DEV_SCOPE, startDevEnvironment } from '../../dev/dev-environment.js';
import { createLogger } from '../../logging/logger.js';
import { runUntilSignal } from '../run-until-signal.js';
import { pino } from 'pino';

interface DevArgs {
  readonly port: number;
  readonly 'log-level': string;
}

export const devCommand: CommandModule<object, DevArgs> = {
  command: 'dev',
  describe: 'start a local Postgres, an Entra simulator and the gateway (TLS), and print a psql command for a demo agent',
  builder: (y) =>
    y
      .option('port', { type: 'number', default: 5433, describe: 'gateway port (0 picks a free one)' })
      .option('log-level', { type: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], describe: 'gateway log level (logs go to stderr)' }),
  handler: async (args) => {
    const logger = createLogger(args['log-level'] as 'info', pino.destination({ dest: 2, sync: false }));
    process.stderr.write('starting a local Postgres, the Entra simulator and the gateway…\n');
    const env = await startDevEnvironment(args.port, logger);
    const token = await env.mintAgentToken();
    process.stdout.write(
      [
        '',
        `idgate dev is up: gateway on 127.0.0.1:${env.gateway.port} (TLS, self-signed), Postgres on 127.0.0.1:${env.cluster.port}, Entra simulator at ${env.entra.authority}`,
        `The demo agent is in group ${env.agentGroupId}, mapped to connection "${DEV_CONNECTION}" (scope ${DEV_SCOPE}). Its token is valid for one hour.`,
        'Paste this in another terminal:',
        '',
        `PGPASSWORD='${token}' psql "host=127.0.0.1 port=${env.gateway.port} dbname=${DEV_CONNECTION} user=demo-agent sslmode=require"`,
        '',
        'Every session is recorded; in a third terminal, while this runs:',
        `  node bin/idgate sessions --db ${env.gateway.services.config.recordingsPath}`,
        `  node bin/idgate show <session id> --db ${env.gateway.services.config.recordingsPath}`,
        '',
        'Ctrl-C stops everything and removes the temporary cluster and its audit log.',
        '',
      ].join('\n'),
    );
    await runUntilSignal(() => env.stop());
  },
};
