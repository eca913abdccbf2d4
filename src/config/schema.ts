import { z } from 'zod';
import { DURATION_HINT, DURATION_PATTERN } from './duration.js';
import { isPublicKeyText } from '../signing/node-key.js';
import { parseScope } from './scope.js';

const publicKey = z.string().refine(isPublicKeyText, 'must be a node public key as idgate keygen prints it (ed25519:…)');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const port = z.number().int().min(0).max(65535);
const seconds = z.number().positive();

const httpsUrl = z
  .string()
  .transform((s) => s.replace(/\/+$/, ''))
  .refine((s) => URL.canParse(s) && s.startsWith('https://'), { error: 'must be an https:// URL' });

const listen = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(5433),
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1) })
      .strict()
      .optional(),
    'allow-plaintext': z.boolean().default(false),
    'max-connections': z.number().int().positive().default(1000),
    'auth-timeout-seconds': seconds.default(10),
    'drain-timeout-seconds': seconds.default(30),
    /** The largest message a logged-in client may send (Postgres's own limit is 1 GB): a larger one ends the session with 54000. */
    'max-message-bytes': z
      .number()
      .int()
      .min(65_536)
      .max(1 << 30)
      .default(64 << 20),
    /** Bytes all sessions together may hold in messages being assembled (to record or judge them): past it, clients are read no further until some is released. */
    'memory-budget-bytes': z
      .number()
      .int()
      .min(1 << 20)
      .default(512 << 20),
    /** Gateway processes sharing the port (node:cluster), each a fleet node with its own local audit database; auto: one per core. */
    workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  })
  .strict();

/** The gateway's own application in Entra: for Microsoft Graph and for `auth: entra` upstreams. */
const gatewayIdentity = z
  .object({
    'client-id': z.string().regex(GUID, 'must be the application (client) id GUID').optional(),
    'client-secret-env': z.string().min(1).optional(),
    'client-secret-file': z.string().min(1).optional(),
    /** PEM file with the certificate registered on the application and its private key. */
    'certificate-file': z.string().min(1).optional(),
    /** The managed identity of the machine the gateway runs on (client-id: a user-assigned one). */
    'managed-identity': z.literal(true).optional(),
  })
  .strict()
  .refine(
    (g) =>
      [g['client-secret-env'], g['client-secret-file'], g['certificate-file'], g['managed-identity']].filter((v) => v !== undefined)
        .length === 1,
    {
      error: 'needs exactly one of client-secret-env, client-secret-file, certificate-file or managed-identity',
    },
  )
  .refine((g) => g['managed-identity'] === true || g['client-id'] !== undefined, {
    error: 'client-id is needed with a secret or a certificate',
    path: ['client-id'],
  });

/** Live revocation: what the gateway asks Microsoft Graph, and how often. */
const graph = z
  .object({
    endpoint: httpsUrl.default('https://graph.microsoft.com'),
    /** How long an answer about an identity (enabled, groups) is reused. */
    'cache-seconds': z.number().min(0).max(300).default(5),
    /** How often the identities behind open sessions are checked again. */
    'recheck-seconds': seconds.max(3600).default(30),
    /** What to do when Graph cannot be asked: refuse (fail closed) or allow on the token alone. */
    'on-unavailable': z.enum(['refuse', 'allow']).default('refuse'),
    'timeout-seconds': seconds.max(60).default(5),
  })
  .strict();

const entra = z
  .object({
    'tenant-id': z.string().regex(GUID, 'must be the tenant GUID'),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    authority: httpsUrl.default('https://login.microsoftonline.com'),
    /** Extra CA certificates (PEM file) trusted for the authority and Graph: a private cloud, a proxy, the simulator. */
    ca: z.string().min(1).optional(),
    'clock-skew-seconds': z.number().min(0).max(300).default(60),
    'allow-user-tokens': z.boolean().default(false),
    'jwks-cooldown-seconds': z.number().min(0).default(30),
    /** How often the signing keys are fetched again, so a removed key stops verifying. */
    'jwks-refresh-seconds': seconds.default(3600),
    'gateway-identity': gatewayIdentity.optional(),
    graph: graph.optional(),
  })
  .strict()
  .refine((e) => e.graph === undefined || e['gateway-identity'] !== undefined, {
    error: 'entra.graph needs entra.gateway-identity (the credential the gateway calls Microsoft Graph with)',
    path: ['graph'],
  });

const connection = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'may hold letters, digits, _ . - only'),
    host: z.string().min(1),
    port: port.default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    /** password: a stored secret; entra: the gateway's own Entra token (Azure Database for PostgreSQL). */
    auth: z.enum(['password', 'entra']).default('password'),
    'password-env': z.string().min(1).optional(),
    'password-file': z.string().min(1).optional(),
    /** The token scope for `auth: entra`. */
    'entra-scope': z.string().min(1).default('https://ossrdbms-aad.database.windows.net/.default'),
    tls: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('require'),
    ca: z.string().min(1).optional(),
    'connect-timeout-seconds': seconds.default(5),
    /** The schema unqualified tables are in, for the session's search_path and for its scopes. */
    'search-path': z
      .string()
      .regex(/^[a-z_][a-z0-9_$]*$/, 'must be one unquoted schema name')
      .default('public'),
    /**
     * Who answers a scoped login's lookup of the built-in names its search path overloads: a session
     * the gateway keeps per connection (one more upstream connection; the login is 5–10 ms faster), or
     * the login's own session after it logged in (no extra connection).
     */
    'overload-lookup': z.enum(['kept-session', 'per-login']).default('kept-session'),
  })
  .strict()
  .refine((c) => c.auth !== 'password' || (c['password-env'] === undefined) !== (c['password-file'] === undefined), {
    error: 'needs exactly one of password-env or password-file (or auth: entra)',
  })
  .refine((c) => c.auth !== 'entra' || (c['password-env'] === undefined && c['password-file'] === undefined), {
    error: 'auth: entra takes no password: the gateway logs in with its own Entra token',
  })
  .refine((c) => (c.tls !== 'verify-full' && c.tls !== 'verify-ca') || c.ca !== undefined, {
    error: 'tls: verify-full and verify-ca need ca: (the CA certificate file)',
    path: ['ca'],
  });

/** A duration: a number of seconds, or a number with a unit (duration.ts: ms, s, m or min, h, d, w), as `30s` or `10m`. */
const duration = z.union([z.number().positive(), z.string().regex(DURATION_PATTERN, `must be seconds (a number) or ${DURATION_HINT}`)]);

/** What one agent may consume. Each key is optional; absent, the next level (identity, mapping, gateway) decides. */
const limitKeys = {
  /** Concurrent sessions of one identity (per gateway process). */
  'max-sessions-per-identity': z.number().int().positive().optional(),
  /** Applied upstream as statement_timeout; a parsed scope cannot change it. */
  'statement-timeout': duration.optional(),
  /** Applied upstream as idle_in_transaction_session_timeout; a parsed scope cannot change it. */
  'idle-in-transaction-timeout': duration.optional(),
  /** A session that sends nothing and waits for nothing this long is ended (57P05). */
  'idle-timeout': duration.optional(),
  /** Rows one statement may return: past it the statement is stopped with an error naming the cap (54000). */
  'max-rows': z.number().int().positive().optional(),
};

const mappingLimits = z
  .object({
    ...limitKeys,
    /** Concurrent sessions admitted through this identity-map entry, all identities together. */
    'max-sessions': z.number().int().positive().optional(),
  })
  .strict();

const limits = z
  .object({
    ...limitKeys,
    /** Per identity (its app id or object id): overrides the mapping's and the gateway's limits. */
    identities: z
      .array(z.object({ identity: z.string().regex(GUID, 'must be an app id or object id GUID'), ...limitKeys }).strict())
      .default([]),
  })
  .strict();

/** The operator's HTTP endpoint: metrics, health, live sessions. Off unless configured. */
export const adminSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(9464),
    /** A bearer token every request but /healthz and /readyz must carry (required off loopback unless client certificates are). */
    'token-env': z.string().min(1).optional(),
    'token-file': z.string().min(1).optional(),
    /** HTTPS; with client-ca, callers must present a certificate it signed. */
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1), 'client-ca': z.string().min(1).optional() })
      .strict()
      .optional(),
    /** How often the identity census behind idgate_identities runs (idgate identities, with entra.graph); 0: never. */
    'identity-census-seconds': z.number().min(0).default(900),
  })
  .strict()
  .refine((a) => a['token-env'] === undefined || a['token-file'] === undefined, { error: 'takes token-env or token-file, not both' });

const mapping = z
  .object({
    /** How listings, logs and the audit log name this entry (else `#N` and what it matches). */
    name: z
      .string()
      .max(63)
      .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'starts with a letter and may hold letters, digits, _ . - only')
      .optional(),
    /** A group object id, or a display name resolved through Graph at start. */
    'entra-group': z.string().min(1).max(256).optional(),
    'entra-app-role': z.string().min(1).optional(),
    connection: z.string().min(1),
    scope: z.string().superRefine((scope, ctx) => {
      try {
        parseScope(scope);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      }
    }),
    record: z.union([z.boolean(), z.literal('full')]).default(true),
    limits: mappingLimits.optional(),
  })
  .strict()
  .refine((m) => (m['entra-group'] === undefined) !== (m['entra-app-role'] === undefined), {
    error: 'needs exactly one of entra-group or entra-app-role',
  });

export const configSchema = z
  .object({
    listen: listen.default(() => listen.parse({})),
    entra,
    connections: z.array(connection).min(1),
    'identity-map': z.array(mapping).min(1),
    limits: limits.default({ identities: [] }),
    admin: adminSchema.optional(),
    /** The other gateways of the fleet: a CancelRequest for a session this one does not hold is passed to them. */
    fleet: z
      .object({
        peers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port of a peer gateway')).default([]),
        'peer-timeout-seconds': z.number().positive().max(60).default(2),
      })
      .strict()
      .default({ peers: [], 'peer-timeout-seconds': 2 }),
    /** This gateway process in a fleet: stored on every session and login attempt (default host name:port). */
    'node-id': z
      .string()
      .regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'must be 1–128 letters, digits or . _ : @ -')
      .optional(),
    recordings: z
      .object({
        path: z.string().min(1).default('recordings/audit.db'),
        /** The database file was removed or replaced under the running gateway: wait for an operator (fail closed), or begin a new log at once. */
        'on-replaced': z.enum(['wait', 'resume']).default('wait'),
        /** write-ahead: a client's frames are committed to the log before they are forwarded; batched: within 100 ms after. */
        durability: z.enum(['write-ahead', 'batched']).default('write-ahead'),
        /** normal: a commit survives the gateway being killed; full: also a power loss or OS crash (fsync per commit). */
        sync: z.enum(['normal', 'full']).default('normal'),
        /** The node's Ed25519 private key (PEM, `idgate keygen`): it signs the log and authenticates the journal. */
        'signing-key-file': z.string().min(1).optional(),
        /** …or an environment variable holding that PEM. */
        'signing-key-env': z.string().min(1).optional(),
        /** Node id → the public key(s) `idgate verify` believes for that node's log (`ed25519:…`, as keygen prints). */
        'trusted-nodes': z
          .record(
            z.string().min(1),
            z.union([publicKey, z.array(publicKey).min(1)]).transform((k) => (typeof k === 'string' ? [k] : k)),
          )
          .optional(),
        /** Anchor this node's log on a schedule (idgate anchor, from the gateway): a file it may only append to, or postgres://… */
        anchor: z
          .object({
            to: z.string().min(1),
            'every-minutes': z.number().positive().max(1440).default(60),
          })
          .strict()
          .optional(),
        /** A central PostgreSQL audit store every node ships to; the local database stays the durable buffer. */
        central: z
          .object({
            /** libpq's URL rules (postgres:// or postgresql://, host=/socket/dir, sslmode with libpq's meaning, default prefer). */
            url: z.string().min(1),
            'password-env': z.string().min(1).optional(),
            'password-file': z.string().min(1).optional(),
            /** Rows that may wait unshipped before recording fails closed. */
            'backlog-limit': z.number().int().positive().default(1_000_000),
          })
          .strict()
          .refine((c) => c['password-env'] === undefined || c['password-file'] === undefined, {
            error: 'takes password-env or password-file, not both',
          })
          .optional(),
      })
      .strict()
      .refine((r) => r['signing-key-file'] === undefined || r['signing-key-env'] === undefined, {
        error: 'takes signing-key-file or signing-key-env, not both',
      })
      .default({ path: 'recordings/audit.db', 'on-replaced': 'wait', durability: 'write-ahead', sync: 'normal' }),
    /** Statements a scope's approve: grants hold back until a person approves them. */
    approvals: z
      .object({
        'request-expiry': duration.default('1h'),
        'approval-expiry': duration.default('15m'),
        'pending-per-identity': z.number().int().positive().default(20),
        wait: z.union([z.literal(0), duration]).default(0),
        /** While a statement waits (wait), a NOTICE to the client this often; 0: none. */
        heartbeat: z.union([z.literal(0), duration]).default('10s'),
        /** Dry-run each request (rolled back) for the approver's row count; off: a dry run executes the statement. */
        preview: z.boolean().default(false),
        /** Two: a second approver must approve too (a refusal by either decides). */
        'approvers-required': z.union([z.literal(1), z.literal(2)]).default(1),
        /** Entra groups whose members may approve with their own (delegated) Entra token. */
        'approver-groups': z.array(z.string().refine(isGuid, 'must be a group object id (a GUID)')).default([]),
        /** Told of each new request: a JSON POST (https only: the statement is in the body). */
        webhook: z
          .object({
            url: z.string().regex(/^https:\/\//, 'must be an https:// URL (the statement is in the body)'),
            'token-env': z.string().min(1).optional(),
            ca: z.string().min(1).optional(),
            'timeout-seconds': z.number().positive().default(5),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({
        'request-expiry': '1h',
        'approval-expiry': '15m',
        'pending-per-identity': 20,
        wait: 0,
        heartbeat: '10s',
        preview: false,
        'approvers-required': 1,
        'approver-groups': [],
      }),
    session: z
      .object({ 'end-at-token-expiry': z.boolean().default(true) })
      .strict()
      .default({ 'end-at-token-expiry': true }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

export type RawConfig = z.infer<typeof configSchema>;
