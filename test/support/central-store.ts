import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { idgate } from './cli.js';
import { TEST_SERVER_SETTINGS } from './test-server.js';

/** A central audit store for a test: its own cluster, database `audit`, migrated by `idgate audit-migrate` as the owner. */
export interface CentralStore {
  readonly cluster: PostgresCluster;
  /** The owner's URL (a DBA's, for the CLI). */
  readonly ownerUrl: string;
  /** The gateways' URL: role idgate_writer, INSERT and SELECT only. */
  readonly writerUrl: string;
  readonly writerPassword: string;
  readonly migrateOutput: string;
}

export async function startCentralStore(): Promise<CentralStore> {
  const cluster = await PostgresCluster.start({ settings: TEST_SERVER_SETTINGS });
  await cluster.sql('CREATE DATABASE audit STRATEGY FILE_COPY');
  const writerPassword = randomBytes(12).toString('hex');
  await cluster.sql(`CREATE ROLE idgate_writer LOGIN PASSWORD '${writerPassword}'`);
  const ownerUrl = `postgres://${cluster.superuser}:${encodeURIComponent(cluster.superuserPassword)}@127.0.0.1:${cluster.port}/audit?sslmode=disable`;
  const migrated = await idgate(['audit-migrate', '--url', ownerUrl, '--writer-role', 'idgate_writer']);
  assert.equal(migrated.code, 0, migrated.stderr);
  // No sslmode: libpq's default, prefer — this server has no TLS, so plaintext.
  const writerUrl = `postgres://idgate_writer:${writerPassword}@127.0.0.1:${cluster.port}/audit`;
  return { cluster, ownerUrl, writerUrl, writerPassword, migrateOutput: migrated.stdout };
}
