import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/config-error.js';
import { resolveAdmin } from '../config/resolve-admin.js';
import { adminSchema } from '../config/schema.js';
import { errorMessage } from '../idgate-error.js';
import { UsageError } from '../idgate-error.js';

export interface AdminTarget {
  readonly url: string;
  readonly token?: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface AdminArgs {
  readonly admin?: string | undefined;
  readonly config: string;
  readonly 'token-env'?: string | undefined;
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export const adminOptions = {
  admin: { type: 'string', describe: 'the admin endpoint URL (default: from the config file’s admin section)' },
  config: {
    alias: 'c',
    type: 'string',
    default: 'idgate.yaml',
    describe: 'configuration file whose admin section names the endpoint and its token',
  },
  'token-env': { type: 'string', describe: 'environment variable holding the admin token (default: the config’s)' },
  ca: { type: 'string', describe: 'CA certificate (PEM) for an https endpoint' },
  cert: { type: 'string', describe: 'client certificate (PEM) when the endpoint asks for one' },
  key: { type: 'string', describe: 'the client certificate’s private key (PEM)' },
} as const;

/**
 * Where the admin endpoint is and how to authenticate: from the flags, else the configuration's
 * `admin:` section alone (the rest of the file, and the secrets it names, need not be at hand).
 */
export function adminTarget(args: AdminArgs, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const files = {
    ...(args.ca ? { ca: readFileSync(args.ca) } : {}),
    ...(args.cert ? { cert: readFileSync(args.cert) } : {}),
    ...(args.key ? { key: readFileSync(args.key) } : {}),
  };
  const flagToken = args['token-env'] !== undefined ? env[args['token-env']] : undefined;
  if (args.admin !== undefined) {
    return { url: args.admin.replace(/\/+$/, ''), ...(flagToken !== undefined ? { token: flagToken } : {}), ...files };
  }
  const section = adminSection(args.config, env);
  const host = section.host.includes(':') ? `[${section.host}]` : section.host;
  const token = flagToken ?? section.token;
  return { url: `${section.https ? 'https' : 'http'}://${host}:${section.port}`, ...(token !== undefined ? { token } : {}), ...files };
}

function adminSection(file: string, env: NodeJS.ProcessEnv): { host: string; port: number; https: boolean; token?: string } {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [{ key: '', message: `cannot read it: ${errorMessage(e)}` }]);
  }
  const raw = (document as { admin?: unknown } | null)?.admin;
  if (raw === undefined) throw new ConfigError(file, [{ key: 'admin', message: 'no admin section: give --admin URL' }]);
  const parsed = adminSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((i) => ({ key: `admin.${i.path.join('.')}`, message: i.message })),
    );
  }
  const problems: { key: string; message: string }[] = [];
  const base = dirname(resolve(file));
  // Certificates are the server's own; the CLI needs only the address and the token.
  const admin = resolveAdmin({ ...parsed.data, tls: undefined }, env, (path, key) => readOr(resolve(base, path), key, problems), problems);
  if (problems.length > 0 || admin === undefined) throw new ConfigError(file, problems);
  const token = admin.token?.reveal();
  return { host: admin.host, port: admin.port, https: parsed.data.tls !== undefined, ...(token !== undefined ? { token } : {}) };
}

function readOr(path: string, key: string, problems: { key: string; message: string }[]): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    problems.push({ key, message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    return Buffer.alloc(0);
  }
}

/** One request to the admin endpoint; resolves with the status and the parsed JSON (or text) body. */
export function adminRequest(
  target: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, `${target.url}/`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = send(
      url,
      {
        method,
        timeout: 10_000,
        headers: {
          accept: 'application/json',
          ...(target.token !== undefined ? { authorization: `Bearer ${target.token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
        ...(target.ca ? { ca: target.ca } : {}),
        ...(target.cert ? { cert: target.cert } : {}),
        ...(target.key ? { key: target.key } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (e.g. /metrics): the text itself
          }
          resolvePromise({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.url} within 10 s`)));
    req.on('error', (e) =>
      reject(new UsageError('refused', `cannot reach the admin endpoint ${target.url}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    req.end(payload);
  });
}

/** The error body's message, or the status. */
export function adminProblem(response: { status: number; body: unknown }): string {
  const body = response.body as { message?: unknown } | null;
  return typeof body === 'object' && body !== null && typeof body.message === 'string'
    ? `${body.message} (HTTP ${response.status})`
    : `HTTP ${response.status}`;
}
