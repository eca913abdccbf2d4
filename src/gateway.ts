import { ApprovalRegistry } from './approvals/approval-registry.js';
import type { ApprovalSiblings } from './approvals/approval-fleet.js';
import { ApprovalWebhook } from './approvals/approval-webhook.js';
import { approvalView } from './admin/approval-view.js';
import { ADMIN_LIMITS, AdminServer } from './admin/admin-server.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { AdminBackend } from './admin/admin-backend.js';
import { IdentityCensus } from './metrics/identity-census.js';
import { localAdmin, type LocalAdminParts } from './admin/local-admin.js';
import { AuditLog, type AuditLimits } from './audit/audit-log.js';
import { centralTarget } from './audit/central/central-target.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { existsSync } from 'node:fs';
import { ConfigError } from './config/config-error.js';
import { restartOnlyChanges } from './config/reload-check.js';
import { createEntraServices, type EntraServices } from './identity/entra-services.js';
import { entraApprovers } from './approvals/entra-approvers.js';
import { CancelGuard } from './session/cancel-guard.js';
import { PeriodicAnchor } from './audit/periodic-anchor.js';
import { resolveGroupNames } from './identity/resolve-group-names.js';
import { createLogger, type Logger } from './logging/logger.js';
import type { GatewayServices, ProtocolFactory, ProtocolServer, SiblingChannel } from './protocol.js';
import { errorMessage } from './idgate-error.js';
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
  /** The other workers' approvals (listen.workers): a statement this process holds nothing for is looked up there. */
  readonly approvalSiblings?: ApprovalSiblings;
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
   * The clients' TLS certificate and key are read again (rotated in place, as with PgBouncer's
   * RELOAD) and serve new connections. Given a loader, a file that does not load counts as a failed
   * reload too (`idgate_config_reload_failures_total`).
   */
  reload(next: GatewayConfig | (() => GatewayConfig)): Promise<{ readonly endedSessions: number }>;
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
  const opened = await openEntraAndAudit(fileConfig, logger, options.auditLimits, (seconds, ok) => metrics?.graphRequest(seconds, ok));
  const { entra, audit } = opened;
  let config = opened.config;
  const sessions = new SessionRegistry();
  const budget = new MemoryBudget(config.listen.memoryBudgetBytes);
  let server: ProtocolServer | undefined;
  const gatewayMetrics = gatewayMetricsFor(sessions, audit, budget, () => server?.openConnections ?? 0, config.nodeId);
  metrics = gatewayMetrics;
  const { watch, idle } = watchSessions(sessions, entra, audit, config, logger);
  const authority = new SessionAuthority(config, entra.verifier, audit, entra.revocation, (seconds, ok) =>
    gatewayMetrics.tokenVerified(seconds, ok),
  );
  const anchor =
    config.anchor === undefined ? undefined : new PeriodicAnchor(audit, config.anchor.to, config.anchor.everyMs, config.nodeId, logger);
  anchor?.start();
  const services: GatewayServices = {
    get config() {
      return config;
    },
    cancelGuard: cancelGuessingGuard(audit, logger),
    authority,
    sessions,
    slots: new SessionSlots(),
    ...approvalServices(approvalRegistry(config, logger, gatewayMetrics), options.approvalSiblings),
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
  const parts = adminParts(services, entra, protocolServer);
  const listening = await listenOrClose(parts, options.answerAdmin, logger, () => entra.close());
  watch.start();
  idle.start();
  entra.signingKeys.startRefreshing();
  logger.info(
    { protocol: protocolServer.protocol, host: listening.address.host, port: listening.address.port, tls: config.listen.tls !== undefined },
    'gateway listening',
  );
  let stopping: Promise<void> | undefined;
  let reloading = Promise.resolve({ endedSessions: 0 });
  const reload = async (next: GatewayConfig | (() => GatewayConfig)): Promise<{ endedSessions: number }> => {
    config = await countedReload(gatewayMetrics, () =>
      applyReload(config, typeof next === 'function' ? next() : next, entra.graph, authority, protocolServer),
    );
    return { endedSessions: endStaleSessions(sessions, authority, logger, config) };
  };
  return {
    ...listening.address,
    services,
    server: protocolServer,
    ...(listening.adminAddress !== undefined ? { admin: listening.adminAddress } : {}),
    get config() {
      return config;
    },
    // One reload at a time, in the order asked.
    reload: (next) => (reloading = reloading.catch(() => ({ endedSessions: 0 })).then(() => reload(next))),
    recheckNow: () => watch.recheck(),
    shutdown: () =>
      (stopping ??= drain(protocolServer, services, config.listen.drainTimeoutMs, anchor).finally(async () => {
        for (const stop of [watch, idle, { stop: () => services.approvals.close() }]) stop.stop();
        await listening.stop();
        entra.close();
      })),
  };
}

function gatewayMetricsFor(
  sessions: SessionRegistry,
  audit: AuditLog,
  budget: MemoryBudget,
  openConnections: () => number,
  nodeId: string,
): GatewayMetrics {
  const metrics = new GatewayMetrics(
    sessions,
    () => ({
      backlog: audit.backlog,
      centralBacklog: audit.centralBacklog,
      healthy: audit.healthy,
      journalSlowAppends: audit.journalSlowAppends,
      journalAppends: audit.journalCounts.appends,
      journalHeldChunks: audit.journalCounts.waits,
    }),
    budget,
    () => Math.max(0, openConnections() - sessions.size),
    nodeId,
  );
  audit.onBatchWritten((seconds) => metrics.auditBatchWritten(seconds));
  return metrics;
}

/** Entra's services, the configuration with its group names resolved, and the audit log; nothing left open if one fails. */
async function openEntraAndAudit(
  fileConfig: GatewayConfig,
  logger: Logger,
  auditLimits: AuditLimits | undefined,
  graphRequest: (seconds: number, ok: boolean) => void,
): Promise<{ entra: EntraServices; config: GatewayConfig; audit: AuditLog }> {
  const entra = await createEntraServices(fileConfig.entra, logger, { graphRequest });
  try {
    const config = await resolveGroupNames(fileConfig, entra.graph);
    if (entra.revocation === undefined) {
      logger.warn('entra.graph is not configured: a disabled identity keeps access until its token expires');
    }
    return { entra, config, audit: await openAuditLog(config, logger, auditLimits) };
  } catch (e) {
    entra.close();
    throw e;
  }
}

/**
 * What ends live sessions from outside them: revocation and token expiry (the watch), idle
 * limits, a signing key withdrawn, and an audit log that can no longer be written (recorded
 * sessions only).
 */
function watchSessions(
  sessions: SessionRegistry,
  entra: EntraServices,
  audit: AuditLog,
  config: GatewayConfig,
  logger: Logger,
): { watch: SessionWatch; idle: IdleSweeper } {
  const watch = new SessionWatch(sessions, entra.revocation, { endAtTokenExpiry: config.endAtTokenExpiry }, logger);
  entra.signingKeys.onRemoved((kids) => watch.keysRemoved(kids));
  audit.onFailure(() =>
    sessions.endWhere(
      (s) => s.grant.rule.record !== false,
      'audit-unavailable',
      'terminating connection because the audit log cannot be written',
    ),
  );
  return { watch, idle: new IdleSweeper(sessions) };
}

type Address = { readonly host: string; readonly port: number };

interface Listening {
  readonly address: Address;
  readonly adminAddress?: Address;
  /** Stops the census and closes the admin endpoint. */
  stop(): Promise<void>;
}

function openAuditLog(config: GatewayConfig, logger: Logger, limits: AuditLimits | undefined): Promise<AuditLog> {
  return AuditLog.open(config.recordingsPath, logger, {
    ...(limits !== undefined ? { limits } : {}),
    nodeId: config.nodeId,
    onReplaced: config.onReplaced,
    writeAhead: config.recordingDurability === 'write-ahead',
    sync: config.recordingSync,
    ...(config.signingKey !== undefined ? { signingKey: config.signingKey } : {}),
    ...(config.central !== undefined
      ? { central: { target: centralTarget(config.central.connection), backlogLimit: config.central.backlogLimit } }
      : {}),
  });
}

/** Cancel-key guessing is logged and kept in the audit log's signed login chain: who tried how often, never a key. */
function cancelGuessingGuard(audit: AuditLog, logger: Logger): CancelGuard {
  return new CancelGuard((guess) => {
    logger.warn(
      { reason: 'cancel-guessing', source: guess.source, wrong: guess.wrong, dropped: guess.dropped },
      'cancel requests with keys this gateway did not issue',
    );
    audit.loginAttempt({
      atUs: guess.sinceMs * 1000,
      accepted: false,
      reason: 'cancel-unknown-key',
      message: `${guess.wrong} CancelRequests with keys this gateway did not issue within a minute${guess.dropped > 0 ? `, and ${guess.dropped} more dropped unread by the limit` : ''}`,
      clientAddress: guess.source,
    });
  });
}

/** The protocol's listener, the identity census and the admin endpoint, in that order. */
async function listen(parts: LocalAdminParts, answerAdmin: GatewayOptions['answerAdmin'], logger: Logger): Promise<Listening> {
  const { server, metrics } = parts;
  const config = parts.config();
  const backend = localAdmin(parts);
  answerAdmin?.(backend, metrics, config.nodeId);
  const address = await server.listen();
  const census = identityCensus(config, logger);
  if (census !== undefined) {
    metrics.census(census);
    census.start();
  }
  const admin = config.admin === undefined ? undefined : new AdminServer(config.admin, backend, logger, ADMIN_LIMITS, parts.approvers);
  const stop = async (): Promise<void> => {
    await census?.stop();
    await admin?.close();
  };
  if (admin === undefined || config.admin === undefined) return { address, stop };
  const adminAddress = await admin.listen();
  logger.info({ host: adminAddress.host, port: adminAddress.port, tls: config.admin.tls !== undefined }, 'admin endpoint listening');
  return { address, adminAddress, stop };
}

/** `listen`, or, when it fails (a port in use), nothing left open: the writer thread would keep the process alive. */
async function listenOrClose(
  parts: LocalAdminParts,
  answerAdmin: GatewayOptions['answerAdmin'],
  logger: Logger,
  closeEntra: () => void,
): Promise<Listening> {
  try {
    return await listen(parts, answerAdmin, logger);
  } catch (e) {
    await parts.server.stopAccepting().catch(() => undefined);
    await parts.audit.close();
    closeEntra();
    throw e;
  }
}

/** The statements held for approval, each new one told to the configured webhook. */
/** This process's approvals, joined to its sibling workers' when it is one of several. */
function approvalServices(
  approvals: ApprovalRegistry,
  siblings: ApprovalSiblings | undefined,
): Pick<GatewayServices, 'approvals' | 'approvalFleet'> {
  const approvalFleet = siblings?.join(approvals);
  return approvalFleet === undefined ? { approvals } : { approvals, approvalFleet };
}

function approvalRegistry(config: GatewayConfig, logger: Logger, metrics: GatewayMetrics): ApprovalRegistry {
  const registry = notifyingRegistry(config, logger);
  registry.onExpired(() => metrics.approval('expired'));
  registry.startSweeping(APPROVAL_SWEEP_MS);
  return registry;
}

/** Requests and approvals expire on a sweep this often (and whenever the registry is asked). */
const APPROVAL_SWEEP_MS = 30_000;

function notifyingRegistry(config: GatewayConfig, logger: Logger): ApprovalRegistry {
  const target = config.approvals.webhook;
  if (target === undefined) return new ApprovalRegistry(config.approvals);
  const { url, timeoutMs, token, ca } = target;
  const webhook = new ApprovalWebhook(
    { url, timeoutMs, ...(token !== undefined ? { token: token.reveal() } : {}), ...(ca !== undefined ? { ca } : {}) },
    logger,
  );
  return new ApprovalRegistry(config.approvals, Date.now, {
    requested: (r) => webhook.notify({ type: 'approval-requested', ...approvalView(r, config.nodeId) }),
    close: () => webhook.close(),
  });
}

/** What the admin endpoint answers from: this process's services, keys and listener. */
function adminParts(services: GatewayServices, entra: EntraServices, server: ProtocolServer): LocalAdminParts {
  const { metrics, sessions, audit, approvals } = services;
  const approvers = entraApprovers(services.config, entra);
  return {
    config: () => services.config,
    metrics,
    sessions,
    audit,
    signingKeys: entra.signingKeys,
    server,
    approvals,
    ...(approvers !== undefined ? { approvers } : {}),
  };
}

/** A reload, counted as a new generation or as a failure (a file that did not load included). */
async function countedReload(metrics: GatewayMetrics, apply: () => Promise<GatewayConfig>): Promise<GatewayConfig> {
  let next: GatewayConfig;
  try {
    next = await apply();
  } catch (e) {
    metrics.reloadFailed();
    throw e;
  }
  metrics.reloaded();
  return next;
}

/** The next configuration, its group names resolved, in force for new logins; refused whole if it changes a restart-only key. */
async function applyReload(
  current: GatewayConfig,
  next: GatewayConfig,
  graph: Parameters<typeof resolveGroupNames>[1],
  authority: SessionAuthority,
  server: ProtocolServer,
): Promise<GatewayConfig> {
  const changed = restartOnlyChanges(current, next);
  if (changed.length > 0) {
    throw new ConfigError(
      next.source,
      changed.map((key) => ({ key, message: 'changes take effect only at a restart; nothing was reloaded' })),
    );
  }
  const commitTls = prepareTls(next, server);
  const resolved = await resolveGroupNames(next, graph);
  authority.replace(resolved);
  commitTls();
  return resolved;
}

/** The clients' certificate and key as the file names them now: checked before anything is reloaded. */
function prepareTls(next: GatewayConfig, server: ProtocolServer): () => void {
  const tls = next.listen.tls;
  if (tls === undefined) return () => undefined;
  try {
    return server.prepareTls(tls);
  } catch (e) {
    throw new ConfigError(next.source, [
      { key: 'listen.tls', message: `the certificate and key cannot be used together: ${errorMessage(e)}; nothing was reloaded` },
    ]);
  }
}

/** Ends the open sessions the configuration in force no longer grants exactly what they had; how many. */
function endStaleSessions(sessions: SessionRegistry, authority: SessionAuthority, logger: Logger, config: GatewayConfig): number {
  const ended = sessions.list().filter((s) => !authority.stillGrants(s.grant));
  for (const s of ended) s.end('access-changed', "terminating connection because the gateway's configuration no longer grants this access");
  logger.info(
    { connections: config.connections.size, mappings: config.identityMap.length, endedSessions: ended.length },
    'configuration reloaded',
  );
  return ended.length;
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
