import pgpass from 'pgpass';
import pg from 'pg';
import type { ConnectionConfig } from '../../config/gateway-config.js';
import { AuditError } from '../audit-error.js';

/**
 * Where the central audit store is, as plain data (it crosses to the shipper thread, where a
 * Secret would not survive the copy). The password stays in memory, never in a message.
 */
export interface CentralTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  readonly tls: ConnectionConfig['tls'];
  readonly ca?: Uint8Array;
  readonly connectTimeoutMs: number;
}

export function centralTarget(config: ConnectionConfig): CentralTarget {
  if (config.auth.kind !== 'password') {
    throw new AuditError('central-login-unsupported', 'the central audit store takes a password (or none): no other login is supported');
  }
  return {
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.auth.password.reveal(),
    tls: config.tls,
    ...(config.ca !== undefined ? { ca: config.ca } : {}),
    connectTimeoutMs: config.connectTimeoutMs,
  };
}

/** The target as the log shows it: no password. */
export function describeTarget(t: CentralTarget): string {
  return `${t.user}@${t.host}:${t.port}/${t.database}`;
}

/**
 * Connects with TLS as libpq's sslmode means it: `prefer` tries TLS and falls back to plaintext
 * only when the server has none; `require` encrypts without checking the certificate (unless a
 * root certificate was given: then `verify-ca`); `verify-ca` checks the chain; `verify-full` the
 * chain and the host name.
 */
export async function connectCentral(t: CentralTarget, applicationName = 'idgate'): Promise<pg.Client> {
  const base: pg.ClientConfig = {
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    // None given: the password file, as libpq and psql read it (node-postgres asks at connect time).
    password: t.password !== '' ? t.password : () => fromPasswordFile(t),
    connectionTimeoutMillis: t.connectTimeoutMs,
    application_name: applicationName,
  };
  const ca = t.ca === undefined ? undefined : Buffer.from(t.ca);
  const ssl = ((): pg.ClientConfig['ssl'] => {
    switch (t.tls) {
      case 'disable':
        return false;
      case 'prefer':
      case 'require':
        return { rejectUnauthorized: false };
      case 'verify-ca':
        return { ...(ca !== undefined ? { ca } : {}), checkServerIdentity: () => undefined };
      case 'verify-full':
        return { ...(ca !== undefined ? { ca } : {}), servername: t.host };
    }
  })();
  const client = new pg.Client({ ...base, ssl });
  client.on('error', () => undefined); // a broken connection fails the next query, which is handled there
  try {
    await client.connect();
    return client;
  } catch (e) {
    await client.end().catch(() => undefined);
    if (t.tls !== 'prefer' || !/does not support SSL/i.test(e instanceof Error ? e.message : '')) throw e;
  }
  const plain = new pg.Client({ ...base, ssl: false });
  plain.on('error', () => undefined);
  await plain.connect();
  return plain;
}

/** The password ~/.pgpass (or PGPASSFILE) holds for this target; empty when it holds none (a server that asks then refuses). */
function fromPasswordFile(t: CentralTarget): Promise<string> {
  return new Promise((resolve) =>
    pgpass({ host: t.host, port: t.port, database: t.database, user: t.user }, (password) => resolve(password ?? '')),
  );
}
