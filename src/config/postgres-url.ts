import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ConnectionConfig, UpstreamTls } from './gateway-config.js';
import { Secret } from './secret.js';
import { IdgateError } from '../idgate-error.js';

/** A libpq URL idgate cannot use (the message says which part; a password in it is never repeated). */
export class UrlError extends IdgateError {
  override readonly name = 'UrlError';
  override readonly code = 'url-invalid';
}

const SSLMODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);
/** The query parameters read; libpq refuses one it does not know, and so does this (a silently ignored `service=` would connect elsewhere). */
const PARAMETERS = new Set(['host', 'port', 'user', 'password', 'dbname', 'sslmode', 'sslrootcert', 'connect_timeout', 'application_name']);

/**
 * A PostgreSQL URL read by libpq's rules: `postgres://` or `postgresql://`, percent-encoded
 * `user:password@`, a host (or `[v6]`) and port, `/dbname`, and query parameters that override them
 * (`host`, `port`, `user`, `password`, `dbname`, `sslmode`, `sslrootcert`, `connect_timeout`). A host
 * that begins with `/` is the directory of the server's Unix-domain socket, and an empty host means
 * the default socket directory. What the URL leaves out comes from PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE, PGSSLMODE and PGSSLROOTCERT — a password also from the password file
 * (~/.pgpass or PGPASSFILE, looked up when connecting: see central-target.ts) — then libpq's defaults: sslmode `prefer`, the
 * OS user, the database named like the user, `~/.postgresql/root.crt` — and with a root
 * certificate, `require` verifies the chain as libpq does. `what` names the option in messages.
 *
 * Not pg-connection-string (2.x), which reads these differently from libpq: it leaves `/db%2Fx`
 * encoded, keeps `?dbname=` apart from the database, opens `sslrootcert` while parsing, treats
 * `require` as `verify-full` (warning on stderr) and rejects several hosts as an invalid URL.
 */
export function parsePostgresUrl(text: string, what: string, env: NodeJS.ProcessEnv = process.env): ConnectionConfig {
  const match = /^(postgres|postgresql):\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(text);
  if (match === null) throw new UrlError(`${what} ${redact(text)}: not a postgres:// or postgresql:// URL`);
  const authority = match[2] ?? '';
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at);
  const hostport = at === -1 ? authority : authority.slice(at + 1);
  if (hostport.includes(',')) throw new UrlError(`${what}: several hosts in one URL are not supported`);
  const colon = userinfo.indexOf(':');
  const params = new URLSearchParams(match[4] ?? '');
  for (const name of params.keys()) {
    if (!PARAMETERS.has(name)) {
      throw new UrlError(
        name === 'service'
          ? `${what}: service= (pg_service.conf) is not supported: give the host, port and dbname`
          : `${what}: unknown URL parameter "${name}" (idgate reads ${[...PARAMETERS].join(', ')})`,
      );
    }
  }
  const param = (name: string): string | undefined => params.get(name) ?? undefined;
  const decode = (s: string): string => decodeURIComponent(s);
  const [urlHost, urlPort] = splitHostPort(hostport, what);
  const user =
    param('user') ?? ((colon === -1 ? decode(userinfo) : decode(userinfo.slice(0, colon))) || env['PGUSER'] || userInfo().username);
  const password = param('password') ?? ((colon === -1 ? '' : decode(userinfo.slice(colon + 1))) || env['PGPASSWORD'] || '');
  const host = param('host') ?? (decode(urlHost) || env['PGHOST'] || defaultSocketDirectory());
  const portText = param('port') ?? (urlPort || env['PGPORT'] || '5432');
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UrlError(`${what}: port "${portText}" is not a port number (1–65535)`);
  const database = param('dbname') ?? (decode((match[3] ?? '').replace(/^\//, '')) || env['PGDATABASE'] || user);
  const sslmode = param('sslmode') ?? env['PGSSLMODE'] ?? 'prefer';
  if (!SSLMODES.has(sslmode)) throw new UrlError(`${what}: sslmode=${sslmode} is not one of ${[...SSLMODES].join(', ')}`);
  if (sslmode === 'allow') throw new UrlError(`${what}: sslmode=allow is not supported; use prefer or disable`);
  const rootCert = param('sslrootcert') ?? env['PGSSLROOTCERT'] ?? join(homedir(), '.postgresql', 'root.crt');
  const ca = sslmode !== 'disable' && sslmode !== 'prefer' && existsSync(rootCert) ? readFileSync(rootCert) : undefined;
  if ((sslmode === 'verify-ca' || sslmode === 'verify-full') && ca === undefined) {
    throw new UrlError(`${what}: sslmode=${sslmode} needs a root certificate (sslrootcert=path; ${rootCert} does not exist)`);
  }
  const tls: UpstreamTls = sslmode === 'require' && ca !== undefined ? 'verify-ca' : (sslmode as UpstreamTls);
  const timeout = Number(param('connect_timeout') ?? env['PGCONNECT_TIMEOUT'] ?? '10');
  return {
    name: 'url',
    host,
    port,
    database,
    user,
    auth: { kind: 'password', password: new Secret(password) },
    tls,
    ...(ca !== undefined ? { ca } : {}),
    connectTimeoutMs: (Number.isFinite(timeout) && timeout > 0 ? timeout : 10) * 1000,
    searchPath: 'public',
    overloadLookup: 'kept-session',
  };
}

function splitHostPort(hostport: string, what: string): [string, string] {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end === -1) throw new UrlError(`${what}: unterminated [IPv6 address]`);
    const rest = hostport.slice(end + 1);
    return [hostport.slice(1, end), rest.startsWith(':') ? rest.slice(1) : ''];
  }
  const colon = hostport.lastIndexOf(':');
  return colon === -1 ? [hostport, ''] : [hostport.slice(0, colon), hostport.slice(colon + 1)];
}

/** libpq's compiled-in socket directory: Debian's where it exists, else the upstream default. */
function defaultSocketDirectory(): string {
  return existsSync('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

/** The URL without its password, for messages. */
export function redact(text: string): string {
  return text.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@').replace(/([?&]password=)[^&]*/g, '$1***');
}
