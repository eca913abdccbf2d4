import { isIP } from 'node:net';
import type { AdminConfig } from './gateway-config.js';
import type { RawConfig } from './schema.js';
import { Secret } from './secret.js';

type Problem = { key: string; message: string };

/**
 * `admin:`. Off loopback the endpoint can end sessions and shows who is connected, so it must
 * authenticate its callers: a bearer token, or client certificates.
 */
export function resolveAdmin(
  raw: RawConfig['admin'],
  env: NodeJS.ProcessEnv,
  readFile: (path: string, key: string) => Buffer,
  problems: Problem[],
): AdminConfig | undefined {
  if (raw === undefined) return undefined;
  const token = resolveToken(raw, env, readFile, problems);
  const tls = raw.tls && {
    cert: readFile(raw.tls.cert, 'admin.tls.cert'),
    key: readFile(raw.tls.key, 'admin.tls.key'),
    ...(raw.tls['client-ca'] !== undefined ? { clientCa: readFile(raw.tls['client-ca'], 'admin.tls.client-ca') } : {}),
  };
  if (!isLoopback(raw.host) && token === undefined && tls?.clientCa === undefined) {
    problems.push({ key: 'admin.host', message: 'off loopback the admin endpoint needs token-env, token-file or tls.client-ca' });
  }
  return {
    host: raw.host,
    port: raw.port,
    identityCensusMs: raw['identity-census-seconds'] * 1000,
    ...(token !== undefined ? { token } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
}

function resolveToken(
  raw: NonNullable<RawConfig['admin']>,
  env: NodeJS.ProcessEnv,
  readFile: (path: string, key: string) => Buffer,
  problems: Problem[],
): Secret | undefined {
  let value: string | undefined;
  let key = 'admin.token-env';
  if (raw['token-env'] !== undefined) value = env[raw['token-env']] ?? '';
  else if (raw['token-file'] !== undefined) {
    key = 'admin.token-file';
    value = readFile(raw['token-file'], key).toString('utf8').trim();
  } else return undefined;
  // A short token could be guessed; 16 characters is the least a generated one has.
  if (value.length < 16) problems.push({ key, message: 'the admin token must be at least 16 characters' });
  return new Secret(value);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}
