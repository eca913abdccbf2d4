import { availableParallelism, hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './config-error.js';
import type {
  ConnectionConfig,
  GatewayConfig,
  GatewayIdentityConfig,
  GraphConfig,
  MappingMatch,
  MappingRule,
  UpstreamAuth,
} from './gateway-config.js';
import { parsePostgresUrl } from './postgres-url.js';
import { resolveAdmin } from './resolve-admin.js';
import { durationMs, resolveLimits, sessionLimits } from './resolve-limits.js';
import { configSchema, isGuid, type RawConfig } from './schema.js';
import { Secret } from './secret.js';
import { NodeKey } from '../signing/node-key.js';
import { errorMessage } from '../idgate-error.js';

type Problem = { key: string; message: string };

export interface LoadOptions {
  /**
   * false: the upstream passwords (connections' and the central store's `password-env` and
   * `password-file`) are not read, and an unset variable or missing file is not a problem — for
   * the commands that read the audit log or ask Graph, which must not need the gateway's
   * database secrets. Those passwords are then empty.
   */
  readonly upstreamSecrets?: boolean;
}

/** For the commands that read the audit log or ask Graph: the upstream passwords are not needed (see LoadOptions). */
export const READ_ONLY: LoadOptions = { upstreamSecrets: false };

/** Where upstream passwords are read from, and where what is wrong with them is told. */
interface SecretSource {
  readonly env: NodeJS.ProcessEnv;
  readonly files: FileReader;
  readonly problems: Problem[];
}

/** Reads, validates and resolves a YAML or JSON config file; throws ConfigError naming each bad key. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [{ key: '', message: `cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (e) {
    throw new ConfigError(file, [{ key: '', message: `not valid YAML/JSON: ${errorMessage(e)}` }]);
  }
  return buildConfig(document, file, dirname(resolve(file)), env, options);
}

/** Validates an already-parsed document; relative paths are taken from baseDir. */
export function buildConfig(
  document: unknown,
  source: string,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): GatewayConfig {
  const parsed = configSchema.safeParse(document ?? {});
  if (!parsed.success) throw new ConfigError(source, parsed.error.issues.map(issueToProblem));
  const raw = parsed.data;
  const problems: Problem[] = [];
  const files = new FileReader(baseDir, problems);
  const secrets = secretSource(options, env, files, problems);
  const connections = resolveConnections(raw, files, secrets, problems);
  const identityMap = resolveIdentityMap(raw, connections, problems);
  const gatewayIdentity = resolveGatewayIdentity(raw, env, files, problems);
  const graph = resolveGraph(raw);
  const central = resolveCentral(raw, env, secrets, problems);
  const admin = resolveAdmin(raw.admin, env, (path, key) => files.read(path, key), problems);
  checkNeedsGatewayIdentity(raw, identityMap, problems);
  const tls = raw.listen.tls;
  const listenTls = tls && { cert: files.read(tls.cert, 'listen.tls.cert'), key: files.read(tls.key, 'listen.tls.key') };
  if (problems.length > 0) throw new ConfigError(source, problems);
  return {
    source,
    listen: listenOf(raw, listenTls),
    entra: {
      tenantId: raw.entra['tenant-id'].toLowerCase(),
      audiences: typeof raw.entra.audience === 'string' ? [raw.entra.audience] : raw.entra.audience,
      authority: raw.entra.authority,
      clockSkewSeconds: raw.entra['clock-skew-seconds'],
      allowUserTokens: raw.entra['allow-user-tokens'],
      jwksCooldownMs: raw.entra['jwks-cooldown-seconds'] * 1000,
      jwksRefreshMs: raw.entra['jwks-refresh-seconds'] * 1000,
      ...(raw.entra.ca !== undefined ? { ca: files.read(raw.entra.ca, 'entra.ca') } : {}),
      ...(gatewayIdentity ? { gatewayIdentity } : {}),
      ...(graph ? { graph } : {}),
    },
    connections,
    identityMap,
    limits: resolveLimits(raw.limits),
    ...(admin !== undefined ? { admin } : {}),
    recordingsPath: resolve(baseDir, raw.recordings.path),
    onReplaced: raw.recordings['on-replaced'],
    recordingDurability: raw.recordings.durability,
    recordingSync: raw.recordings.sync,
    ...(central !== undefined ? { central } : {}),
    ...signingKeyOf(raw, env, files, problems),
    trustedNodes: new Map(Object.entries(raw.recordings['trusted-nodes'] ?? {})),
    ...(raw.recordings.anchor !== undefined
      ? {
          anchor: {
            // A file is relative to the config; a postgres:// URL is taken as given.
            to: /^postgres(ql)?:\/\//.test(raw.recordings.anchor.to)
              ? raw.recordings.anchor.to
              : resolve(baseDir, raw.recordings.anchor.to),
            everyMs: raw.recordings.anchor['every-minutes'] * 60_000,
          },
        }
      : {}),
    nodeId: raw['node-id'] ?? `${hostname()}:${raw.listen.port}`,
    peers: raw.fleet.peers.map((peer) => {
      const colon = peer.lastIndexOf(':');
      return { host: peer.slice(0, colon), port: Number(peer.slice(colon + 1)) };
    }),
    peerTimeoutMs: raw.fleet['peer-timeout-seconds'] * 1000,
    endAtTokenExpiry: raw.session['end-at-token-expiry'],
    approvals: approvalsOf(raw.approvals, env, files),
    logLevel: raw.log.level,
  };
}

/** The listen section, with the TLS certificate and key read. */
function listenOf(raw: RawConfig, tls: { cert: Buffer; key: Buffer } | undefined): GatewayConfig['listen'] {
  return {
    host: raw.listen.host,
    port: raw.listen.port,
    ...(tls ? { tls } : {}),
    allowPlaintext: raw.listen['allow-plaintext'],
    maxConnections: raw.listen['max-connections'],
    authTimeoutMs: raw.listen['auth-timeout-seconds'] * 1000,
    maxMessageBytes: raw.listen['max-message-bytes'],
    memoryBudgetBytes: raw.listen['memory-budget-bytes'],
    workers: raw.listen.workers === 'auto' ? availableParallelism() : raw.listen.workers,
    drainTimeoutMs: raw.listen['drain-timeout-seconds'] * 1000,
  };
}

/** Upstream passwords from the environment and files as given, or (not wanted) from nowhere, their problems ignored. */
function secretSource(options: LoadOptions, env: NodeJS.ProcessEnv, files: FileReader, problems: Problem[]): SecretSource {
  if (options.upstreamSecrets !== false) return { env, files, problems };
  const ignored: Problem[] = [];
  return { env: {}, files: new FileReader(files.baseDir, ignored), problems: ignored };
}

function issueToProblem(issue: z.core.$ZodIssue): Problem {
  return { key: formatPath(issue.path), message: issue.message };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc === '' ? String(k) : `${acc}.${String(k)}`), '');
}

class FileReader {
  constructor(
    readonly baseDir: string,
    private readonly problems: Problem[],
  ) {}

  read(path: string, key: string): Buffer {
    try {
      return readFileSync(resolve(this.baseDir, path));
    } catch (e) {
      this.problems.push({ key, message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      return Buffer.alloc(0);
    }
  }
}

function resolveConnections(raw: RawConfig, files: FileReader, secrets: SecretSource, problems: Problem[]): Map<string, ConnectionConfig> {
  const out = new Map<string, ConnectionConfig>();
  raw.connections.forEach((c, i) => {
    const key = `connections[${i}]`;
    if (out.has(c.name)) problems.push({ key: `${key}.name`, message: `duplicate connection name "${c.name}"` });
    const auth: UpstreamAuth =
      c.auth === 'entra' ? { kind: 'entra', scope: c['entra-scope'] } : { kind: 'password', password: resolvePassword(c, key, secrets) };
    out.set(c.name, {
      name: c.name,
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.user,
      auth,
      tls: c.tls,
      ...(c.ca !== undefined ? { ca: files.read(c.ca, `${key}.ca`) } : {}),
      connectTimeoutMs: c['connect-timeout-seconds'] * 1000,
      searchPath: c['search-path'],
      overloadLookup: c['overload-lookup'],
    });
  });
  return out;
}

function resolvePassword(
  c: { readonly 'password-env'?: string | undefined; readonly 'password-file'?: string | undefined },
  key: string,
  { env, files, problems }: SecretSource,
): Secret {
  const fromEnv = c['password-env'];
  if (fromEnv !== undefined) {
    const value = env[fromEnv];
    if (value === undefined || value === '') {
      problems.push({ key: `${key}.password-env`, message: `environment variable ${fromEnv} is not set` });
    }
    return new Secret(value ?? '');
  }
  const file = c['password-file'] ?? '';
  return new Secret(
    files
      .read(file, `${key}.password-file`)
      .toString('utf8')
      .replace(/\r?\n$/, ''),
  );
}

/** `recordings.signing-key-file` or `-env`: a PEM Ed25519 private key, checked here so a bad one stops the start. */
function signingKeyOf(raw: RawConfig, env: NodeJS.ProcessEnv, files: FileReader, problems: Problem[]): { signingKey?: Secret } {
  const file = raw.recordings['signing-key-file'];
  const envName = raw.recordings['signing-key-env'];
  if (file === undefined && envName === undefined) return {};
  const key = envName !== undefined ? 'recordings.signing-key-env' : 'recordings.signing-key-file';
  const pem = envName !== undefined ? (env[envName] ?? '') : files.read(file ?? '', key).toString('utf8');
  if (pem === '') {
    if (envName !== undefined) problems.push({ key, message: `environment variable ${envName} is not set` });
    return {};
  }
  try {
    NodeKey.fromPem(pem);
  } catch (e) {
    problems.push({ key, message: e instanceof Error ? e.message : String(e) });
    return {};
  }
  return { signingKey: new Secret(pem) };
}

/** `recordings.central`: the URL read by libpq's rules, the password from the URL, the environment or a file. */
function resolveCentral(raw: RawConfig, env: NodeJS.ProcessEnv, secrets: SecretSource, problems: Problem[]): GatewayConfig['central'] {
  const c = raw.recordings.central;
  if (c === undefined) return undefined;
  let connection: ConnectionConfig;
  try {
    connection = parsePostgresUrl(c.url, 'the URL', env);
  } catch (e) {
    problems.push({ key: 'recordings.central.url', message: e instanceof Error ? e.message : String(e) });
    return undefined;
  }
  if (c['password-env'] !== undefined || c['password-file'] !== undefined) {
    const password = resolvePassword(c, 'recordings.central', secrets);
    connection = { ...connection, name: 'central', auth: { kind: 'password', password } };
  }
  return { connection: { ...connection, name: 'central' }, backlogLimit: c['backlog-limit'], url: c.url };
}

function resolveIdentityMap(raw: RawConfig, connections: ReadonlyMap<string, ConnectionConfig>, problems: Problem[]): MappingRule[] {
  const names = new Set<string>();
  return raw['identity-map'].map((m, index) => {
    if (!connections.has(m.connection)) {
      problems.push({ key: `identity-map[${index}].connection`, message: `no connection named "${m.connection}"` });
    }
    if (m.name !== undefined && names.has(m.name)) {
      problems.push({ key: `identity-map[${index}].name`, message: `duplicate entry name "${m.name}"` });
    }
    if (m.name !== undefined) names.add(m.name);
    const group = m['entra-group'];
    return {
      index,
      ...(m.name !== undefined ? { name: m.name } : {}),
      match: group !== undefined ? groupMatch(group) : { kind: 'entra-app-role', role: m['entra-app-role'] ?? '' },
      connection: m.connection,
      scope: m.scope,
      record: m.record,
      limits: {
        ...sessionLimits(m.limits ?? {}),
        ...(m.limits?.['max-sessions'] !== undefined ? { maxSessions: m.limits['max-sessions'] } : {}),
      },
    };
  });
}

/** A GUID is a group object id as tokens carry it; anything else is a display name Graph resolves. */
function groupMatch(group: string): MappingMatch {
  return isGuid(group) ? { kind: 'entra-group', groupId: group.toLowerCase() } : { kind: 'entra-group', groupId: '', groupName: group };
}

function resolveGatewayIdentity(
  raw: RawConfig,
  env: NodeJS.ProcessEnv,
  files: FileReader,
  problems: Problem[],
): GatewayIdentityConfig | undefined {
  const identity = raw.entra['gateway-identity'];
  if (identity === undefined) return undefined;
  const key = 'entra.gateway-identity';
  const clientId = identity['client-id']?.toLowerCase();
  if (identity['managed-identity'] === true) {
    return { ...(clientId !== undefined ? { clientId } : {}), credential: { kind: 'managed-identity' } };
  }
  const certificateFile = identity['certificate-file'];
  if (certificateFile !== undefined) {
    return {
      ...(clientId !== undefined ? { clientId } : {}),
      credential: { kind: 'certificate', pem: new Secret(files.read(certificateFile, `${key}.certificate-file`).toString('utf8')) },
    };
  }
  const secretEnv = identity['client-secret-env'];
  if (secretEnv !== undefined) {
    const value = env[secretEnv];
    if (value === undefined || value === '') {
      problems.push({ key: `${key}.client-secret-env`, message: `environment variable ${secretEnv} is not set` });
    }
    return { ...(clientId !== undefined ? { clientId } : {}), credential: { kind: 'secret', secret: new Secret(value ?? '') } };
  }
  const file = identity['client-secret-file'] ?? '';
  return {
    ...(clientId !== undefined ? { clientId } : {}),
    credential: { kind: 'secret', secret: new Secret(files.read(file, `${key}.client-secret-file`).toString('utf8').trim()) },
  };
}

function resolveGraph(raw: RawConfig): GraphConfig | undefined {
  const graph = raw.entra.graph;
  if (graph === undefined) return undefined;
  return {
    endpoint: graph.endpoint,
    cacheMs: graph['cache-seconds'] * 1000,
    recheckMs: graph['recheck-seconds'] * 1000,
    onUnavailable: graph['on-unavailable'],
    timeoutMs: graph['timeout-seconds'] * 1000,
  };
}

/** Group display names need Graph to be resolved; `auth: entra` needs the gateway's own identity. */
function checkNeedsGatewayIdentity(raw: RawConfig, rules: readonly MappingRule[], problems: Problem[]): void {
  if (raw.entra.graph === undefined) {
    for (const rule of rules) {
      if (rule.match.kind === 'entra-group' && rule.match.groupName !== undefined) {
        problems.push({
          key: `identity-map[${rule.index}].entra-group`,
          message: `"${rule.match.groupName}" is not a group object id; a display name needs entra.graph to be resolved`,
        });
      }
    }
  }
  if (raw.entra['gateway-identity'] === undefined) {
    raw.connections.forEach((c, i) => {
      if (c.auth === 'entra') {
        problems.push({
          key: `connections[${i}].auth`,
          message: 'auth: entra needs entra.gateway-identity (the identity the gateway logs in with)',
        });
      }
    });
  }
}

/** `approvals`: durations in milliseconds, group ids lower-case, the webhook's secrets read. */
function approvalsOf(raw: RawConfig['approvals'], env: NodeJS.ProcessEnv, files: FileReader): GatewayConfig['approvals'] {
  return {
    requestTtlMs: durationMs(raw['request-expiry']),
    approvalTtlMs: durationMs(raw['approval-expiry']),
    pendingPerIdentity: raw['pending-per-identity'],
    waitMs: raw.wait === 0 ? 0 : durationMs(raw.wait),
    heartbeatMs: raw.heartbeat === 0 ? 0 : durationMs(raw.heartbeat),
    preview: raw.preview,
    approversRequired: raw['approvers-required'],
    approverGroups: raw['approver-groups'].map((g) => g.toLowerCase()),
    ...webhookOf(raw.webhook, env, files),
  };
}

/** `approvals.webhook`, its token from the environment and its CA read. */
function webhookOf(
  raw: RawConfig['approvals']['webhook'],
  env: NodeJS.ProcessEnv,
  files: FileReader,
): Pick<GatewayConfig['approvals'], 'webhook'> {
  if (raw === undefined) return {};
  const tokenEnv = raw['token-env'];
  return {
    webhook: {
      url: raw.url,
      timeoutMs: raw['timeout-seconds'] * 1000,
      ...(tokenEnv !== undefined ? { token: new Secret(env[tokenEnv] ?? '') } : {}),
      ...(raw.ca !== undefined ? { ca: files.read(raw.ca, 'approvals.webhook.ca') } : {}),
    },
  };
}
