import type { CommandModule } from 'yargs';
import { DEV_AUDIENCE, DEV_CONNECTION, DEV_GROUP, DEV_SCOPE, startDevEnvironment, type DevEnvironment } from '../../dev/dev-environment.js';
import { createLogger } from '../../logging/logger.js';
import { runUntilSignal } from '../run-until-signal.js';
import { freePort, portIsFree } from '../../dev/free-port.js';
import { UsageError } from '../../idgate-error.js';
import { pino } from 'pino';
import type { WireProtocol } from '../../protocol.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

/** The gateway's port when none is asked for (Postgres's own plus one); taken, a free one is used instead. */
const DEFAULT_PORT = 5433;

interface DevArgs {
  readonly port: number | undefined;
  readonly 'log-level': string;
}

export function devCommand(protocol: WireProtocol): CommandModule<object, DevArgs> {
  return {
    ...COMMAND_SUMMARIES.dev,
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
      out(banner(env, await env.mintAgentToken()));
      await runUntilSignal(() => env.stop());
    },
  };
}

/** What `idgate dev` prints: each line something to paste, in the order of the README's tour. */
function banner(env: DevEnvironment, token: string): string {
  const conninfo = `host=127.0.0.1 port=${env.gateway.port} dbname=${DEV_CONNECTION} user=demo-agent sslmode=require`;
  const admin = `${env.entra.authority}/_admin/applications/${env.agent.appId}`;
  const { config } = env.gateway.services;
  const graph = config.entra.graph;
  // A recheck may read an answer Graph gave up to cache-seconds before: the bound is their sum.
  const revocationBound = graph === undefined ? undefined : (graph.recheckMs + graph.cacheMs) / 1000;
  const cli = (command: string): string => `  node bin/idgate ${command} --config ${env.config}`;
  return [
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
    `Operate it as in production, in a third terminal: the gateway runs with ${env.config}, its secrets are in ${env.envFile}:`,
    `  set -a; . ${env.envFile}; set +a`,
    cli('status'),
    cli('terminate <session id>'),
    `  curl -H "Authorization: Bearer $IDGATE_DEV_ADMIN_TOKEN" http://127.0.0.1:${config.admin?.port ?? 0}/metrics`,
    cli(`reach ${env.agent.appId}`),
    cli('identities'),
    cli('check --connect'),
    'Every session is recorded:',
    cli('sessions'),
    cli('show <session id>'),
    cli('verify'),
    `  (or --db ${config.recordingsPath})`,
    '',
    'Ctrl-C stops everything and removes the temporary cluster, its configuration and its audit log.',
    '',
  ].join('\n');
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
