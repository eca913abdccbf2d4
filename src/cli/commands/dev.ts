import type { CommandModule } from 'yargs';
import { DEV_AUDIENCE, DEV_CONNECTION, DEV_GROUP, DEV_SCOPE, startDevEnvironment } from '../../dev/dev-environment.js';
import { createLogger } from '../../logging/logger.js';
import { runUntilSignal } from '../run-until-signal.js';
import { freePort, portIsFree } from '../../dev/free-port.js';
import { UsageError } from '../../idgate-error.js';
import { pino } from 'pino';
import type { WireProtocol } from '../../protocol.js';
import { err, out } from '../output.js';

/** The gateway's port when none is asked for (Postgres's own plus one); taken, a free one is used instead. */
const DEFAULT_PORT = 5433;

interface DevArgs {
  readonly port: number | undefined;
  readonly 'log-level': string;
}

export function devCommand(protocol: WireProtocol): CommandModule<object, DevArgs> {
  return {
    command: 'dev',
    describe: 'start a local Postgres, an Entra simulator and the gateway (TLS), and print a psql command for a demo agent',
    builder: (y) =>
      y
        .option('port', {
          type: 'number',
          describe: `gateway port (default ${DEFAULT_PORT}, or a free one if that is taken; 0 picks a free one)`,
        })
        .option('log-level', {
          type: 'string',
          default: 'info',
          choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'],
          describe: 'gateway log level (logs go to stderr)',
        }),
    handler: async (args) => {
      const logger = createLogger(args['log-level'] as 'info', pino.destination({ dest: 2, sync: false }));
      const port = await gatewayPort(args.port);
      err('starting a local Postgres, the Entra simulator and the gateway…\n');
      const env = await startDevEnvironment(protocol, port, logger);
      const token = await env.mintAgentToken();
      const conninfo = `host=127.0.0.1 port=${env.gateway.port} dbname=${DEV_CONNECTION} user=demo-agent sslmode=require`;
      const admin = `${env.entra.authority}/_admin/applications/${env.agent.appId}`;
      const db = env.gateway.services.config.recordingsPath;
      const graph = env.gateway.services.config.entra.graph;
      // A recheck may read an answer Graph gave up to cache-seconds before: the bound is their sum.
      const revocationBound = graph === undefined ? undefined : (graph.recheckMs + graph.cacheMs) / 1000;
      out(
        [
          '',
          `idgate dev is up: gateway on 127.0.0.1:${env.gateway.port} (TLS, self-signed), Postgres on 127.0.0.1:${env.cluster.port}, Entra simulator at ${env.entra.authority}`,
          `The demo agent (application ${env.agent.appId}) is in group "${DEV_GROUP}", mapped to connection "${DEV_CONNECTION}" (scope ${DEV_SCOPE}).`,
          'Paste this in another terminal (a token valid for one hour):',
          '',
          `PGPASSWORD='${token}' psql "${conninfo}"`,
          '',
          'Or get the token as an agent does, from the (simulated) Entra token endpoint:',
          `  export DEMO_AGENT_SECRET='${env.agent.secrets[0] ?? ''}'`,
          `  export PGPASSWORD=$(node bin/idgate token --authority ${env.entra.authority} --tenant ${env.entra.tenantId} --client-id ${env.agent.appId} --client-secret-env DEMO_AGENT_SECRET --scope ${DEV_AUDIENCE}/.default --ca ${env.entraCaFile})`,
          '',
          `Disable the agent in Entra: its open session ends within ${String(revocationBound)} s (recheck-seconds + cache-seconds) and new logins are refused; enable it again:`,
          `  curl --cacert ${env.entraCaFile} -X POST ${admin}/disable`,
          `  curl --cacert ${env.entraCaFile} -X POST ${admin}/enable`,
          '',
          'Every session is recorded; in a third terminal, while this runs:',
          `  node bin/idgate sessions --db ${db}`,
          `  node bin/idgate show <session id> --db ${db}`,
          '',
          'Ctrl-C stops everything and removes the temporary cluster and its audit log.',
          '',
        ].join('\n'),
      );
      await runUntilSignal(() => env.stop());
    },
  };
}

/**
 * The port asked for, if free (else a one-line refusal, not a listen error); with none asked for,
 * 5433 — or, when another cluster or gateway holds it (Debian gives 5433 to a second cluster), a
 * free port, said so.
 */
async function gatewayPort(asked: number | undefined): Promise<number> {
  if (asked !== undefined) {
    if (asked !== 0 && !(await portIsFree(asked))) throw new UsageError('bad-argument', `--port ${asked}: the port is taken on 127.0.0.1`);
    return asked;
  }
  if (await portIsFree(DEFAULT_PORT)) return DEFAULT_PORT;
  const port = await freePort();
  err(`port ${DEFAULT_PORT} is taken on 127.0.0.1 (another cluster or gateway): the gateway listens on ${port} instead\n`);
  return port;
}
