import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile } from '../config/load-config.js';
import { startGateway, type RunningGateway } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import { EntraSimulator, READ_APPLICATIONS, READ_MEMBERSHIP, type SimApplication } from './entra-simulator.js';
import { PostgresCluster } from './postgres-cluster.js';
import { freePort } from './free-port.js';
import { selfSignedCertificate } from './self-signed.js';
import type { WireProtocol } from '../protocol.js';

export const DEV_CONNECTION = 'records-api';
export const DEV_AUDIENCE = 'api://idgate';
/** The demo agent may read anything and write only the records table. */
export const DEV_SCOPE = 'read write:records';

export const DEV_GROUP = 'records-agents';

export interface DevEnvironment {
  readonly cluster: PostgresCluster;
  readonly entra: EntraSimulator;
  readonly gateway: RunningGateway;
  readonly agentGroupId: string;
  /** The demo agent's application in the simulated tenant (its client secret is in `agent.secrets`). */
  readonly agent: SimApplication;
  /** The simulator's CA certificate, for `idgate token --ca` and curl. */
  readonly entraCaFile: string;
  /** The configuration the gateway runs with, as a file the CLI takes with `--config`. */
  readonly config: string;
  /** Its secrets (`set -a; . FILE`): the upstream password, the Graph client secret, the admin token. */
  readonly envFile: string;
  /** A fresh token for the demo agent (a member of the mapped group). */
  mintAgentToken(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Everything `idgate dev` runs, with no configuration: a local Postgres holding a `records`
 * table, the Entra simulator, and the gateway with TLS on a self-signed certificate, wired
 * together through an ordinary gateway configuration.
 */
export async function startDevEnvironment(protocol: WireProtocol, port: number, logger: Logger): Promise<DevEnvironment> {
  const workDir = mkdtempSync(join(tmpdir(), 'idgate-dev-'));
  const removeWorkDir = (): Promise<void> => {
    rmSync(workDir, { recursive: true, force: true });
    return Promise.resolve();
  };
  const stops: (() => Promise<void>)[] = [removeWorkDir];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const cluster = await PostgresCluster.start();
    stops.push(() => cluster.stop());
    const password = randomBytes(18).toString('base64url');
    await seedDatabase(cluster, password);
    const entra = await EntraSimulator.start();
    stops.push(() => entra.stop());
    const entraCaFile = join(workDir, 'entra-ca.pem');
    writeFileSync(entraCaFile, entra.caCert);
    entra.directory.registerApi(DEV_AUDIENCE);
    const gatewayApp = await entra.directory.registerApplication({
      displayName: 'idgate-gateway',
      roles: [READ_APPLICATIONS, READ_MEMBERSHIP],
    });
    const agent = await entra.directory.registerApplication({ displayName: 'demo-agent' });
    const agentGroupId = entra.directory.createGroup(DEV_GROUP).id;
    entra.directory.addMember(agentGroupId, agent.objectId);
    const certificate = await selfSignedCertificate();
    writeFileSync(join(workDir, 'server.crt'), certificate.cert);
    writeFileSync(join(workDir, 'server.key'), certificate.key, { mode: 0o600 });
    const secrets = {
      IDGATE_DEV_PASSWORD: password,
      IDGATE_DEV_GRAPH_SECRET: gatewayApp.secrets[0] ?? '',
      IDGATE_DEV_ADMIN_TOKEN: randomBytes(24).toString('base64url'),
    };
    const files = writeDevFiles(workDir, devDocument(entra, gatewayApp.appId, cluster, port, await freePort()), secrets);
    // The gateway's own children (the identity census runs `idgate identities`) read them as an operator would.
    Object.assign(process.env, secrets);
    const config = loadConfigFile(files.config, { ...process.env, ...secrets });
    const gateway = await startGateway(config, protocol.serve, { logger });
    stops.push(() => gateway.shutdown());
    return {
      cluster,
      entra,
      gateway,
      agentGroupId,
      agent,
      entraCaFile,
      ...files,
      mintAgentToken: () => entra.mint(entra.appClaims(agent, entra.directory.api(DEV_AUDIENCE)?.appId ?? DEV_AUDIENCE)),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** The gateway's configuration in dev: an ordinary one, with the admin endpoint on, its secrets from the environment. */
function devDocument(
  entra: EntraSimulator,
  gatewayAppId: string,
  cluster: PostgresCluster,
  port: number,
  adminPort: number,
): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port, tls: { cert: 'server.crt', key: 'server.key' } },
    entra: {
      'tenant-id': entra.tenantId,
      audience: [DEV_AUDIENCE, entra.directory.api(DEV_AUDIENCE)?.appId ?? DEV_AUDIENCE],
      authority: entra.authority,
      ca: 'entra-ca.pem',
      'gateway-identity': { 'client-id': gatewayAppId, 'client-secret-env': 'IDGATE_DEV_GRAPH_SECRET' },
      graph: { endpoint: entra.graphEndpoint, 'recheck-seconds': 5 },
    },
    connections: [
      {
        name: DEV_CONNECTION,
        host: cluster.host,
        port: cluster.port,
        database: 'records',
        user: 'sync_writer',
        'password-env': 'IDGATE_DEV_PASSWORD',
        tls: 'disable',
      },
    ],
    'identity-map': [{ name: 'demo-agents', 'entra-group': DEV_GROUP, connection: DEV_CONNECTION, scope: DEV_SCOPE, record: true }],
    recordings: { path: 'audit.db' },
    // On loopback, but with a token: on a shared host anyone else could otherwise end sessions.
    admin: { host: '127.0.0.1', port: adminPort, 'token-env': 'IDGATE_DEV_ADMIN_TOKEN' },
  };
}

/** `idgate.yaml` and `idgate.env` (owner-only) in the work dir, as an operator would keep them. */
function writeDevFiles(
  workDir: string,
  document: Record<string, unknown>,
  secrets: Record<string, string>,
): { config: string; envFile: string } {
  const config = join(workDir, 'idgate.yaml');
  const envFile = join(workDir, 'idgate.env');
  writeFileSync(
    config,
    `# Written by idgate dev: the configuration this gateway runs with (docs/configuration.md).\n${stringify(document)}`,
  );
  const lines = Object.entries(secrets).map(([name, value]) => `${name}='${value}'`);
  writeFileSync(envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { config, envFile };
}

async function seedDatabase(cluster: PostgresCluster, password: string): Promise<void> {
  await cluster.sql('CREATE DATABASE records');
  await cluster.sql(`CREATE ROLE sync_writer LOGIN PASSWORD '${password}'`);
  await cluster.sql(
    [
      'CREATE TABLE records (id serial PRIMARY KEY, title text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())',
      "INSERT INTO records (title) VALUES ('first record'), ('second record'), ('third record')",
      'GRANT SELECT, INSERT, UPDATE, DELETE ON records TO sync_writer',
      'GRANT USAGE ON SEQUENCE records_id_seq TO sync_writer',
    ].join('; '),
    'records',
  );
}
