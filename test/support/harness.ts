import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { stringify } from 'yaml';
import { postgresProtocol } from '../../protocols/postgres/index.js';
import { LOOKUP_APPLICATION_NAME } from '../../protocols/postgres/upstream/overload-lookups.js';
import type { GatewayConfig } from '../../src/config/gateway-config.js';
import { buildConfig } from '../../src/config/load-config.js';
import {
  EntraSimulator,
  READ_APPLICATIONS,
  READ_MEMBERSHIP,
  type MintOptions,
  type SimApplication,
} from '../../src/dev/entra-simulator.js';
import { PostgresCluster, type ClusterOptions } from '../../src/dev/postgres-cluster.js';
import { selfSignedCertificate, type CertificatePair } from '../../src/dev/self-signed.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { simulatorOptionsForRun } from './run-signing-key.js';
import { releaseTestRunnerHook } from './test-runner-hook.js';
import { TEST_SERVER_SETTINGS } from './test-server.js';
import { createLogger } from '../../src/logging/logger.js';
import type { AuditLimits } from '../../src/audit/audit-log.js';

export const AUDIENCE = 'api://idgate-test';
export const CONNECTION = 'records-api';
export const READ_ROLE = 'Records.Read';
/** The gateway API's application id: v2 tokens carry it as `aud`. */
export const API_CLIENT_ID = '5e1f0c2a-7d3b-4c11-9a7e-1d2c3b4a5f60';

/** A configuration document as the YAML file would hold it. */
export type ConfigDocument = Record<string, unknown> & {
  'identity-map': Record<string, unknown>[];
  connections: Record<string, unknown>[];
};

/**
 * A connection entry to the harness's `records` database as `sync_writer` (plaintext, its password
 * from the environment), named `name`, with `extra` keys added or overriding.
 */
export function recordsConnection(cluster: PostgresCluster, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    host: cluster.host,
    port: cluster.port,
    database: 'records',
    user: 'sync_writer',
    'password-env': 'SYNC_WRITER_PASSWORD',
    tls: 'disable',
    ...extra,
  };
}

export interface HarnessOptions {
  readonly cluster?: ClusterOptions;
  /** Overrides of the `listen` section. */
  readonly listen?: Record<string, unknown>;
  /** More connections (raw config entries, given the cluster) and identity-map entries. */
  readonly connections?: (cluster: PostgresCluster) => Record<string, unknown>[];
  readonly identityMap?: Record<string, unknown>[];
  /** Upstream TLS for the cluster (so connections can use tls: require / verify-full). */
  readonly upstreamTls?: boolean;
  readonly auditLimits?: AuditLimits;
  /** Live revocation: the gateway gets its own application in the simulator and `entra.graph` (overrides given). */
  readonly graph?: Record<string, unknown>;
  /**
   * How the gateway's own identity authenticates: a client secret (default) or a managed identity,
   * which msal-node finds through IDENTITY_ENDPOINT/IDENTITY_HEADER (set in this process until stop).
   */
  readonly gatewayIdentity?: 'secret' | 'managed-identity';
  /** Overrides of the `entra` section. */
  readonly entra?: Record<string, unknown>;
  /** Overrides of the `session` section. */
  readonly session?: Record<string, unknown>;
  /** Overrides of the `recordings` section. */
  readonly recordings?: Record<string, unknown>;
  /** The gateway's `node-id` (default: host name:port). */
  readonly nodeId?: string;
  /** The `fleet` section (peers). */
  readonly fleet?: Record<string, unknown>;
  /** The `admin` section (the operator's HTTP endpoint). */
  readonly admin?: Record<string, unknown>;
  /** The `approvals` section. */
  readonly approvals?: Record<string, unknown>;
  /** More environment variables the configuration reads (`…-env` keys). */
  readonly env?: Record<string, string>;
  /** The gateway-wide `limits` section. */
  readonly limits?: Record<string, unknown>;
  /** Runs once the simulator is up, before the gateway starts (register applications, groups…). */
  readonly prepare?: (entra: EntraSimulator) => Promise<void> | void;
}

/**
 * Everything an integration test needs, with no manual step: a throw-away Postgres (SCRAM), the
 * Entra simulator, and the gateway on a free port with TLS, configured through the ordinary
 * config builder. The gateway's logs are kept in memory so tests can search them.
 */
export class Harness {
  private constructor(
    readonly cluster: PostgresCluster,
    readonly entra: EntraSimulator,
    readonly gateway: RunningGateway,
    readonly config: GatewayConfig,
    readonly groupId: string,
    readonly certificate: CertificatePair,
    readonly passwords: Readonly<Record<string, string>>,
    /** Every line the gateway logged (JSON). */
    readonly logLines: readonly string[],
    readonly workDir: string,
    private readonly document: ConfigDocument,
    private readonly env: Record<string, string>,
  ) {}

  /** The harness's configuration with an edit applied to a copy of its document (for reload tests). */
  configWith(edit: (document: ConfigDocument) => void): GatewayConfig {
    const copy = structuredClone(this.document);
    edit(copy);
    return buildConfig(copy, 'test harness (edited)', this.workDir, this.env);
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    releaseTestRunnerHook(); // called from a before(): the file's suites are built
    const workDir = mkdtempSync(join(tmpdir(), 'idgate-test-'));
    const certificate = await selfSignedCertificate();
    writeFileSync(join(workDir, 'server.crt'), certificate.cert);
    writeFileSync(join(workDir, 'server.key'), certificate.key);
    const cluster = await PostgresCluster.start({
      hba: ['host all md5_writer 127.0.0.1/32 md5', 'host all plain_writer 127.0.0.1/32 password'],
      ...(options.upstreamTls ? { tls: certificate } : {}),
      ...options.cluster,
      settings: { ...TEST_SERVER_SETTINGS, ...options.cluster?.settings },
    });
    // prep_writer's password holds what SASLprep changes (a soft hyphen, a non-ASCII space): the server hashed it prepared.
    const passwords = {
      sync_writer: secret(),
      md5_writer: secret(),
      plain_writer: secret(),
      prep_writer: `${secret()}\u00ad\u00a0${secret()}`,
    };
    await seed(cluster, passwords);
    const entra = await EntraSimulator.start(await simulatorOptionsForRun());
    writeFileSync(join(workDir, 'entra-ca.pem'), entra.caCert);
    entra.directory.registerApi(AUDIENCE, API_CLIENT_ID);
    const groupId = entra.directory.createGroup('records-agents').id;
    const env: Record<string, string> = {
      SYNC_WRITER_PASSWORD: passwords.sync_writer,
      MD5_WRITER_PASSWORD: passwords.md5_writer,
      PLAIN_WRITER_PASSWORD: passwords.plain_writer,
      PREP_WRITER_PASSWORD: passwords.prep_writer,
      ...options.env,
    };
    const managed = options.gatewayIdentity === 'managed-identity';
    const gatewayApp = options.graph
      ? await entra.directory.registerApplication({
          displayName: 'idgate-gateway',
          roles: [READ_APPLICATIONS, READ_MEMBERSHIP],
          managedIdentity: managed,
          secret: !managed,
        })
      : undefined;
    if (gatewayApp) env['IDGATE_GRAPH_SECRET'] = gatewayApp.secrets[0] ?? '';
    if (managed) {
      process.env['IDENTITY_ENDPOINT'] = entra.managedIdentityEndpoint;
      process.env['IDENTITY_HEADER'] = entra.identityHeader;
    }
    await options.prepare?.(entra);
    const document: ConfigDocument = {
      listen: { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key' }, 'drain-timeout-seconds': 2, ...options.listen },
      entra: {
        'tenant-id': entra.tenantId,
        audience: [AUDIENCE, API_CLIENT_ID],
        authority: entra.authority,
        ca: 'entra-ca.pem',
        'jwks-cooldown-seconds': 0,
        ...(gatewayApp
          ? {
              'gateway-identity': managed
                ? { 'managed-identity': true }
                : { 'client-id': gatewayApp.appId, 'client-secret-env': 'IDGATE_GRAPH_SECRET' },
              graph: { endpoint: entra.graphEndpoint, ...options.graph },
            }
          : {}),
        ...options.entra,
      },
      ...(options.session ? { session: options.session } : {}),
      ...(options.nodeId !== undefined ? { 'node-id': options.nodeId } : {}),
      ...(options.recordings !== undefined ? { recordings: options.recordings } : {}),
      ...(options.fleet !== undefined ? { fleet: options.fleet } : {}),
      ...(options.admin !== undefined ? { admin: options.admin } : {}),
      ...(options.approvals !== undefined ? { approvals: options.approvals } : {}),
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
      connections: [
        recordsConnection(cluster, CONNECTION),
        recordsConnection(cluster, 'other-db'),
        ...(options.connections?.(cluster) ?? []),
      ],
      'identity-map': [
        { name: 'writers', 'entra-group': groupId, connection: CONNECTION, scope: 'all' },
        { 'entra-app-role': READ_ROLE, connection: CONNECTION, scope: 'read' },
        ...(options.identityMap ?? []),
      ],
    };
    const config = buildConfig(document, 'test harness', workDir, env);
    const logLines: string[] = [];
    const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });
    const gateway = await startGateway(config, postgresProtocol, {
      logger,
      ...(options.auditLimits ? { auditLimits: options.auditLimits } : {}),
    });
    return new Harness(cluster, entra, gateway, config, groupId, certificate, passwords, logLines, workDir, document, env);
  }

  /** The harness's configuration written as a YAML file in its directory (for CLI commands), with the environment its secrets come from. */
  writeConfigFile(edit: (document: ConfigDocument) => void = () => undefined): { file: string; env: Record<string, string> } {
    const copy = structuredClone(this.document);
    edit(copy);
    const file = join(this.workDir, `config-${randomBytes(4).toString('hex')}.yaml`);
    writeFileSync(file, stringify(copy));
    return { file, env: { ...this.env } };
  }

  /** A scratch directory removed at stop (it also holds the simulator's CA as entra-ca.pem). */
  get workDirectory(): string {
    return this.workDir;
  }

  get port(): number {
    return this.gateway.port;
  }

  /** A token for an agent in the mapped group (override any claim). */
  token(claims: JWTPayload = {}, options: MintOptions = {}): Promise<string> {
    return this.entra.mint({ aud: AUDIENCE, groups: [this.groupId], ...claims }, options);
  }

  /** An agent application in the simulated tenant, a member of the given groups (default: the mapped group). */
  async agent(displayName: string, groups: readonly string[] = [this.groupId], roles: readonly string[] = []): Promise<SimApplication> {
    const app = await this.entra.directory.registerApplication({ displayName, roles, certificate: true });
    for (const g of groups) this.entra.directory.addMember(g, app.objectId);
    return app;
  }

  /** The token Entra would issue this agent for the gateway's API now (its groups as they stand). */
  agentToken(app: SimApplication, options: MintOptions = {}): Promise<string> {
    return this.entra.mint(this.entra.appClaims(app, API_CLIENT_ID), options);
  }

  /** A libpq connection string to the gateway. */
  conninfo(extra = ''): string {
    return `host=127.0.0.1 port=${this.port} dbname=${CONNECTION} user=test-agent sslmode=require ${extra}`.trim();
  }

  /** Sessions the gateway holds and upstream backends of the gateway's roles, after things settle. */
  /** Waits until the upstream runs `sql` (a session's login done and its statement under way), at most 20 s. */
  async untilRunning(sql: string): Promise<void> {
    const query = `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = '${sql.replaceAll("'", "''")}'`;
    for (let i = 0; i < 400; i++) {
      if ((await this.cluster.sql(query)) !== '0') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the upstream never ran ${sql}`);
  }

  async assertNoLeaks(): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      // The session kept per connection for scoped logins' overload lookup is the gateway's own, not a
      // session's: counted apart, and never more than one per connection.
      const [upstream = 0, kept = 0] = (
        await this.cluster.sql(
          `SELECT count(*) FILTER (WHERE application_name <> '${LOOKUP_APPLICATION_NAME}'), count(*) FILTER (WHERE application_name = '${LOOKUP_APPLICATION_NAME}')
           FROM pg_stat_activity WHERE usename IN ('sync_writer','md5_writer','plain_writer')`,
        )
      )
        .split('|')
        .map(Number);
      if (kept > this.gateway.config.connections.size) throw new Error(`leak: ${kept} kept overload-lookup sessions`);
      const sessions = this.gateway.services.sessions.size;
      const open = this.gateway.server.openConnections;
      if (upstream === 0 && sessions === 0 && open === 0) {
        await this.assertInSync();
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`leak: ${sessions} sessions, ${open} client connections, ${upstream} upstream backends still open`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** No session ended because the gate's reply model lost track of the server (checked beside the leak check, and at every stop). */
  async assertInSync(): Promise<void> {
    const lost = await this.gateway.services.metrics.replyOutOfSyncCount();
    if (lost > 0) throw outOfSync(lost);
  }

  async stop(): Promise<void> {
    const lost = await this.gateway.services.metrics.replyOutOfSyncCount();
    delete process.env['IDENTITY_ENDPOINT'];
    delete process.env['IDENTITY_HEADER'];
    await this.gateway.shutdown();
    await this.entra.stop();
    await this.cluster.stop();
    rmSync(this.workDir, { recursive: true, force: true });
    if (lost > 0) throw outOfSync(lost);
  }
}

function outOfSync(lost: number): Error {
  return new Error(`${lost} session(s) ended with the reply tracker out of sync (idgate_reply_out_of_sync_total)`);
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

async function seed(cluster: PostgresCluster, passwords: Record<string, string>): Promise<void> {
  // Copied, not WAL-logged block by block (the default since PostgreSQL 15): half the CPU of it.
  await cluster.sql('CREATE DATABASE records STRATEGY FILE_COPY');
  // One connection for the rest: each costs the server a backend and a SCRAM exchange (~35 ms of CPU).
  await cluster.sql(
    [
      `CREATE ROLE sync_writer LOGIN PASSWORD '${passwords['sync_writer']}'`,
      "SET password_encryption = 'md5'",
      `CREATE ROLE md5_writer LOGIN PASSWORD '${passwords['md5_writer']}'`,
      'RESET password_encryption',
      `CREATE ROLE plain_writer LOGIN PASSWORD '${passwords['plain_writer']}'`,
      `CREATE ROLE prep_writer LOGIN PASSWORD '${passwords['prep_writer']}'`,
      'CREATE TABLE records (id serial PRIMARY KEY, title text NOT NULL, body bytea)',
      "INSERT INTO records (title) SELECT 'record ' || g FROM generate_series(1, 100) g",
      'GRANT ALL ON records TO sync_writer, md5_writer, plain_writer',
      'GRANT USAGE ON SEQUENCE records_id_seq TO sync_writer, md5_writer, plain_writer',
      'GRANT pg_signal_backend TO sync_writer',
    ].join('; '),
    'records',
  );
}
