import type { ConnectionConfig } from '../config/gateway-config.js';
import { parsePostgresUrl } from '../config/postgres-url.js';

export { parsePostgresUrl, redact } from '../config/postgres-url.js';

/** A replay target (`replay --target`), read as libpq reads a URL. */
export function parseTargetUrl(text: string, env: NodeJS.ProcessEnv = process.env): ConnectionConfig {
  return parsePostgresUrl(text, '--target', env);
}

/** True when the target is the database the session ran against (same host, port and name). */
export function isSameDatabase(target: ConnectionConfig, upstream: string): boolean {
  const match = /^(.*):(\d+)\/(.*)$/.exec(upstream);
  if (match === null) return false;
  // A Unix-domain socket is this machine: the same as a loopback upstream on the same port.
  const normalise = (host: string): string =>
    host === 'localhost' || host === '::1' || host.startsWith('/') ? '127.0.0.1' : host.toLowerCase();
  return normalise(match[1] ?? '') === normalise(target.host) && Number(match[2]) === target.port && match[3] === target.database;
}
