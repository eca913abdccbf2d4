import cluster from 'node:cluster';
import type { CommandModule } from 'yargs';
import { ADMIN_LIMITS, AdminServer } from '../../admin/admin-server.js';
import { entraApprovers } from '../../approvals/entra-approvers.js';
import { createEntraServices } from '../../identity/entra-services.js';
import type { AdminConfig, GatewayConfig } from '../../config/gateway-config.js';
import { ClusterAdmin } from '../../workers/cluster-admin.js';
import { answerAdminAsks } from '../../workers/worker-admin.js';
import type { Logger } from '../../logging/logger.js';
import { loadConfigFile } from '../../config/load-config.js';
import { forWorker } from '../../config/worker-config.js';
import { STOP_MESSAGE, WORKER_INDEX_ENV, WorkerPool } from '../../workers/worker-pool.js';
import { WorkerSiblings } from '../../workers/worker-siblings.js';
import { WorkerApprovals } from '../../workers/worker-approvals.js';
import { startGateway } from '../../gateway.js';
import { createLogger } from '../../logging/logger.js';
import { runUntilSignal } from '../run-until-signal.js';
import { configOption } from '../options/config-option.js';
import type { WireProtocol } from '../../protocol.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

/**
 * The primary's admin endpoint: it answers for all workers by asking each. With approver groups it
 * verifies approvers' Entra tokens itself (its own key set and Graph client, closed with it).
 */
async function serveClusterAdmin(
  config: GatewayConfig,
  admin: AdminConfig,
  pool: WorkerPool,
  logger: Logger,
): Promise<{ close(): Promise<void> }> {
  const backend = new ClusterAdmin(() => pool.live);
  pool.onWorkerMessage((m) => backend.onMessage(m));
  const entra = config.approvals.approverGroups.length > 0 ? await createEntraServices(config.entra, logger) : undefined;
  const server = new AdminServer(admin, backend, logger, ADMIN_LIMITS, entra && entraApprovers(config, entra));
  const address = await server.listen();
  logger.info({ host: address.host, port: address.port }, 'admin endpoint listening (for all workers)');
  return {
    close: async () => {
      await server.close();
      entra?.close();
    },
  };
}

interface ServeArgs {
  readonly config: string;
}

/** A worker drains when its primary says so (WorkerPool.stop), whether or not a signal reached it too. */
function whenPrimaryStops(begin: () => void): void {
  process.on('message', (m: unknown) => {
    if (m === STOP_MESSAGE) begin();
  });
}

export function serveCommand(protocol: WireProtocol): CommandModule<object, ServeArgs> {
  return {
    ...COMMAND_SUMMARIES.serve,
    builder: (y) => y.option('config', configOption),
    handler: async (args) => {
      const config = loadConfigFile(args.config);
      const logger = createLogger(config.logLevel);
      if (cluster.isPrimary && config.listen.workers > 1) {
        // The primary serves no client: it runs the workers (listen.workers), each this same command.
        const primaryLogger = logger.child({ node: config.nodeId, role: 'primary' });
        const pool = WorkerPool.start(config.listen.workers, primaryLogger);
        const admin = config.admin === undefined ? undefined : await serveClusterAdmin(config, config.admin, pool, primaryLogger);
        const onHangup = (): void => pool.reload();
        process.on('SIGHUP', onHangup);
        await runUntilSignal(async () => {
          await pool.stop();
          await admin?.close();
        });
        process.off('SIGHUP', onHangup);
        return;
      }
      const index = cluster.isWorker ? Number(process.env[WORKER_INDEX_ENV]) : undefined;
      const asRun = (c: GatewayConfig): GatewayConfig => (index === undefined ? c : forWorker(c, index));
      const gateway = await startGateway(asRun(config), protocol.serve, {
        logger,
        ...(cluster.isWorker
          ? {
              siblings: new WorkerSiblings(process),
              approvalSiblings: new WorkerApprovals(process),
              answerAdmin: (backend, metrics, node) => answerAdminAsks(process, backend, metrics, node),
            }
          : {}),
      });
      const onHangup = (): void => {
        // A bad file, or one that changes what needs a restart, leaves the configuration in force untouched.
        Promise.resolve()
          .then(() => gateway.reload(() => asRun(loadConfigFile(args.config))))
          .catch((e: unknown) => logger.error({ err: e instanceof Error ? e.message : String(e) }, 'configuration not reloaded'));
      };
      process.on('SIGHUP', onHangup);
      await runUntilSignal(() => gateway.shutdown(), cluster.isWorker ? whenPrimaryStops : undefined);
      process.off('SIGHUP', onHangup);
      // A worker's IPC channel would keep it alive.
      if (cluster.isWorker) process.disconnect();
    },
  };
}
