import { AdminServer } from './admin/admin-server.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { AdminBackend } from './admin/admin-backend.js';
import { IdentityCensus } from './metrics/identity-census.js';
import { localAdmin } from './admin/local-admin.js';
import { AuditLog, type AuditLimits } from './audit/audit-log.js';
import { centralTarget } from './audit/central/central-target.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { existsSync } from 'node:fs';
import { ConfigError } from './config/config-error.js';
import { restartOnlyChanges } from './config/reload-check.js';
import { createEntraServices } from './identity/entra-services.js';
import { CancelGuard } from './session/cancel-guard.js';
import { PeriodicAnchor } from './audit/periodic-anchor.js';
import { resolveGroupNames } from './identity/resolve-group-names.js';
import { createLogger, type Logger } from './logging/logger.js';
import type { GatewayServices, ProtocolFactory, ProtocolServer, SiblingChannel } from './protocol.js';
import { IdleSweeper } from './session/idle-sweeper.js';
import { MemoryBudget } from './session/memory-budget.js';
import { SessionAuthority } from './session/session-authority.js';
import { SessionRegistry } from './session/session-registry.js';
import { SessionSlots } from './session/session-slots.js';
import { SessionWatch } from './session/session-watch.js';

export interface GatewayOptions {
  readonly logger?: Logger;
  /** When recorded sessions are held back for the audit writer (defaults suit production). */
  readonly auditLimits?: AuditLimits;
  /** This process is one of several workers (`listen.workers`): cancels are routed between them. */
  readonly siblings?: SiblingChannel;
  /** A worker answers the admin endpoint its primary serves: given this process's answers. */
  readonly answerAdmin?: (backend: AdminBackend, metrics: GatewayMetrics, nodeId: string) => void;
}

export interface RunningGateway {
  readonly host: string;
  readonly port: number;
  readonly services: GatewayServices;
  readonly server: ProtocolServer;
  /** Where the admin endpoint listens (`admin:`), when configured. */
  readonly admin?: { readonly host: string; readonly port: number };
  /** The configuration in force: group display names resolved to ids. */
  readonly config: GatewayConfig;
  /**
   * Applies a new configuration's connections and identity-map to new logins (group names resolved
   * again) and ends the open sessions it no longer grants exactly what they had. Other sections
   * need a restart: a reload that changes them is refused, and the configuration in force stays.
   */
  reload(next: GatewayConfig): Promise<{ readonly endedSessions: number }>;
  /** Rechecks open sessions now instead of at the next `recheck-seconds` tick. */
  recheckNow(): Promise<void>;
  /** Stops accepting, lets open sessions finish for up to the drain timeout, then ends the rest. */
  shutdown(): Promise<void>;
}

/** Wires the core (config, token verification, identity-map, sessions) to a wire protocol and starts listening. */
export async function startGateway(
  fileConfig: GatewayConfig,
  protocol: ProtocolFactory,
  options: GatewayOptions = {},
): Promise<RunningGateway> {
  // Every line names this fleet node, so a fleet's logs can be read together.
  const logger = (options.logger ?? createLogger(fileConfig.logLevel)).child({ node: fileConfig.nodeId });
  // The metrics need the registry and the audit log, which come later: they are read only when scraped.
  let metrics: GatewayMetrics | undefined;
  const entra = createEntraServices(fileConfig.entra, logger, { graphRequest: (seconds, ok) => metrics?.graphRequest(seconds, ok) });
  let config: GatewayConfig;
  try {
    config = await resolveGroupNames(fileConfig, entra.graph);
  } catch (e) {
    entra.close();
    throw e;
  }
  if (entra.revocation === undefined) {
    logger.warn('entra.graph is not configured: a disabled identity keeps access until its token expires');
  }
  let audit: AuditLog;
  try {
    audit = await AuditLog.open(config.recordingsPath, logger, {
      ...(options.auditLimits !== undefined ? { limits: options.auditLimits } : {}),
      nodeId: config.nodeId,
      onReplaced: config.onReplaced,
      writeAhead: config.recordingDurability === 'write-ahead',
      sync: config.recordingSync,
      ...(config.signingKey !== undefined ? { signingKey: config.signingKey } : {}),
      ...(config.central !== undefined
        ? { central: { target: centralTarget(config.central.connection), backlogLimit: config.central.backlogLimit } }
        : {}),
    });
  } catch (e) {
    entra.close();
    throw e;
  }
  const sessions = new SessionRegistry();
  const budget = new MemoryBudget(config.listen.memoryBudgetBytes);
  let server: ProtocolServer | undefined;
  const gatewayMetrics = new GatewayMetrics(
    sessions,
    () => ({ backlog: audit.backlog, centralBacklog: audit.centralBacklog, healthy: audit.healthy }),
    budget,
    () => Math.max(0, (server?.openConnections ?? 0) - sessions.size),
    config.nodeId,
  );
  metrics = gatewayMetrics;
  audit.onBatchWritten((seconds) => gatewayMetrics.auditBatchWritten(seconds));
  const watch = new SessionWatch(sessions, entra.revocation, { endAtTokenExpiry: config.endAtTokenExpiry }, logger);
  const idle = new IdleSweeper(sessions);
  entra.signingKeys.onRemoved((kids) => watch.keysRemoved(kids));
  audit.onFailure(() =>
    sessions.endWhere(
      (s) => s.grant.rule.record !== false,
      'audit-unavailable',
      'terminating connection because the audit log cannot be written',
    ),
  );
  const authority = new SessionAuthority(config, entra.verifier, audit, entra.revocation, (seconds, ok) =>
    gatewayMetrics.tokenVerified(seconds, ok),
  );
  const cancelGuard = new CancelGuard((guess) => {
    logger.warn(
      { reason: 'cancel-guessing', source: guess.source, wrong: guess.wrong, dropped: guess.dropped },
      'cancel requests with keys this gateway did not issue',
    );
    // In the audit log's signed login chain: who tried how often, never a key.
    audit.loginAttempt({
      atUs: guess.sinceMs * 1000,
      accepted: false,
      reason: 'cancel-unknown-key',
      message: `${guess.wrong} CancelRequests with keys this gateway did not issue within a minute${guess.dropped > 0 ? `, and ${guess.dropped} more dropped unread by the limit` : ''}`,
      clientAddress: guess.source,
    });
  });
  const anchor =
    config.anchor === undefined ? undefined : new PeriodicAnchor(audit, config.anchor.to, config.anchor.everyMs, config.nodeId, logger);
  anchor?.start();
  const services: GatewayServices = {
    get config() {
      return config;
    },
    cancelGuard,
    authority,
    sessions,
    slots: new SessionSlots(),
    budget,
    audit,
    logger,
    upstreamPasswords: entra.upstreamPasswords,
    metrics: gatewayMetrics,
    ...(options.siblings !== undefined ? { siblings: options.siblings } : {}),
  };
  const protocolServer = protocol(services);
  server = protocolServer;
  options.siblings?.answerWith((processId, secretKey) => protocolServer.cancelHeld(processId, secretKey));
  let address: { readonly host: string; readonly port: number };
  let admin: AdminServer | undefined;
  let census: IdentityCensus | undefined;
  let adminAddress: { readonly host: string; readonly port: number } | undefined;
  try {
    address = await protocolServer.listen();
    const backend = localAdmin({
      config: () => config,
      metrics: gatewayMetrics,
      sessions,
      audit,
      signingKeys: entra.signingKeys,
      server: protocolServer,
    });
    options.answerAdmin?.(backend, gatewayMetrics, config.nodeId);
    census = identityCensus(config, logger);
    if (census !== undefined) {
      gatewayMetrics.census(census);
      census.start();
    }
    if (config.admin !== undefined) {
      admin = new AdminServer(config.admin, backend, logger);
      adminAddress = await admin.listen();
      logger.info({ host: adminAddress.host, port: adminAddress.port, tls: config.admin.tls !== undefined }, 'admin endpoint listening');
    }
  } catch (e) {
    await protocolServer.stopAccepting().catch(() => undefined);
    // The writer thread would keep the process alive after a failed start (a port in use).
    await audit.close();
    entra.close();
    throw e;
  }
  watch.start();
  idle.start();
  entra.signingKeys.startRefreshing();
  logger.info(
    { protocol: protocolServer.protocol, host: address.host, port: address.port, tls: config.listen.tls !== undefined },
    'gateway listening',
  );
  let stopping: Promise<void> | undefined;
  let reloading = Promise.resolve({ endedSessions: 0 });
  const reload = async (next: GatewayConfig): Promise<{ endedSessions: number }> => {
    const changed = restartOnlyChanges(config, next);
    if (changed.length > 0) {
      throw new ConfigError(
        next.source,
        changed.map((key) => ({ key, message: 'changes take effect only at a restart; nothing was reloaded' })),
      );
    }
    config = await resolveGroupNames(next, entra.graph);
    authority.replace(config);
    gatewayMetrics.reloaded();
    const stale = sessions.list().filter((s) => !authority.stillGrants(s.grant));
    for (const s of stale) {
      s.end('access-changed', "terminating connection because the gateway's configuration no longer grants this access");
    }
    logger.info(
      { connections: config.connections.size, mappings: config.identityMap.length, endedSessions: stale.length },
      'configuration reloaded',
    );
    return { endedSessions: stale.length };
  };
  return {
    ...address,
    services,
    server: protocolServer,
    ...(adminAddress !== undefined ? { admin: adminAddress } : {}),
    get config() {
      return config;
    },
    // One reload at a time, in the order asked.
    reload: (next) => (reloading = reloading.catch(() => ({ endedSessions: 0 })).then(() => reload(next))),
    recheckNow: () => watch.recheck(),
    shutdown: () =>
      (stopping ??= drain(protocolServer, services, config.listen.drainTimeoutMs, anchor).finally(async () => {
        watch.stop();
        idle.stop();
        await census?.stop();
        await admin?.close();
        entra.close();
      })),
  };
}

/**
 * The census behind idgate_identities: with the admin endpoint, live revocation (Graph) and a
 * configuration file to give `idgate identities`, in a single gateway process. It reads the
 * central store in a fleet, else the local audit database.
 */
function identityCensus(config: GatewayConfig, logger: Logger): IdentityCensus | undefined {
  const admin = config.admin;
  if (
    admin === undefined ||
    admin.identityCensusMs <= 0 ||
    config.entra.graph === undefined ||
    config.listen.workers !== 1 ||
    !existsSync(config.source)
  ) {
    return undefined;
  }
  const central = config.central;
  const password = central?.connection.auth.kind === 'password' ? central.connection.auth.password.reveal() : '';
  // The census process gets the store's password in its environment, never on its command line (ps shows that).
  const db = central === undefined ? config.recordingsPath : withoutPassword(central.url);
  return new IdentityCensus(
    { configFile: config.source, db, env: password !== '' ? { PGPASSWORD: password } : {} },
    admin.identityCensusMs,
    logger.child({ census: 'identities' }),
  );
}

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  parsed.searchParams.delete('password');
  return parsed.href;
}

async function drain(
  server: ProtocolServer,
  services: GatewayServices,
  timeoutMs: number,
  anchor: PeriodicAnchor | undefined,
): Promise<void> {
  const { sessions, logger } = services;
  const closed = server.stopAccepting();
  logger.info({ sessions: sessions.size, timeoutMs }, 'draining');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  if ((await Promise.race([sessions.whenEmpty(), deadline])) === 'timeout') {
    logger.warn({ sessions: sessions.size }, 'drain timeout: ending open sessions');
    sessions.endAll('gateway-shutdown', 'terminating connection because the gateway is shutting down');
    await sessions.whenEmpty();
  }
  clearTimeout(timer);
  await closed;
  // The guessing summaries of the last minute go into the log before it closes.
  services.cancelGuard.close();
  // A last anchor: what the database holds by now (the writer commits every 100 ms).
  await anchor?.stop();
  await services.audit.close();
  logger.info('gateway stopped');
}
