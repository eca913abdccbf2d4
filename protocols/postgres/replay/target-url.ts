import { readFileSync } from 'node:fs';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import { Secret } from '../../../src/config/secret.js';

/**
 * A replay target given as a libpq URL: postgres://user:password@host:port/database?sslmode=…
 * The password may come from PGPASSWORD instead. sslmode: disable, require (the default), or
 * verify-full with sslrootcert.
 */
export function parseTargetUrl(text: string, env: NodeJS.ProcessEnv = process.env): ConnectionConfig {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--target ${redact(text)}: not a postgres:// URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('--target: expected a postgres:// URL');
  const user = decodeURIComponent(url.username) || env['PGUSER'] || '';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || user;
  if (user === '') throw new Error('--target: the URL names no user');
  const sslmode = url.searchParams.get('sslmode') ?? 'require';
  const tls = sslmode === 'disable' ? 'disable' : sslmode === 'verify-full' ? 'verify-full' : 'require';
  const caPath = url.searchParams.get('sslrootcert');
  if (tls === 'verify-full' && caPath === null) throw new Error('--target: sslmode=verify-full needs sslrootcert=path');
  return {
    name: 'replay-target',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 5432 : Number(url.port),
    database,
    user,
    auth: { kind: 'password', password: new Secret(decodeURIComponent(url.password) || env['PGPASSWORD'] || '') },
    tls,
    ...(caPath !== null ? { ca: readFileSync(caPath) } : {}),
    connectTimeoutMs: 10_000,
    searchPath: 'public',
  };
}

/** The URL without its password, for messages. */
export function redact(text: string): string {
  return text.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
}

/** True when the target is the database the session ran against (same host, port and name). */
export function isSameDatabase(target: ConnectionConfig, upstream: string): boolean {
  const match = /^(.*):(\d+)\/(.*)$/.exec(upstream);
  if (match === null) return false;
  const normalise = (host: string): string => (host === 'localhost' || host === '::1' ? '127.0.0.1' : host.toLowerCase());
  return normalise(match[1] ?? '') === normalise(target.host) && Number(match[2]) === target.port && match[3] === target.database;
}
