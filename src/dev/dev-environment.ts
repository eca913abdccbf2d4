import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../config/load-config.js';
import { startGateway, type RunningGateway } from '../gateway.js';
import type { Logger } from '../logging/logger.js';
import { EntraSimulator, READ_APPLICATIONS, READ_MEMBERSHIP, type SimApplication } from './entra-simulator.js';
import { PostgresCluster } from './postgres-cluster.js';
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
    const config = buildConfig(
      {
        listen: { host: '127.0.0.1', port, tls: { cert: 'server.crt', key: 'server.key' } },
        entra: {
          'tenant-id': entra.tenantId,
          audience: [DEV_AUDIENCE, entra.directory.api(DEV_AUDIENCE)?.appId ?? DEV_AUDIENCE],
          authority: entra.authority,
          ca: 'entra-ca.pem',
          'gateway-identity': { 'client-id': gatewayApp.appId, 'client-secret-env': 'IDGATE_DEV_GRAPH_SECRET' },
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
        'identity-map': [{ 'entra-group': DEV_GROUP, connection: DEV_CONNECTION, scope: DEV_SCOPE, record: true }],
        recordings: { path: join(workDir, 'audit.db') },
      },
      'idgate dev (built-in configuration)',
      workDir,
      { IDGATE_DEV_PASSWORD: password, IDGATE_DEV_GRAPH_SECRET: gatewayApp.secrets[0] ?? '' },
    );
    const gateway = await startGateway(config, protocol.serve, { logger });
    stops.push(() => gateway.shutdown());
    return {
      cluster,
      entra,
      gateway,
      agentGroupId,
      agent,
      entraCaFile,
      mintAgentToken: () => entra.mint(entra.appClaims(agent, entra.directory.api(DEV_AUDIENCE)?.appId ?? DEV_AUDIENCE)),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
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
