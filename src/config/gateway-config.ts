import type { ClientCredential } from './client-credential.js';
import type { Secret } from './secret.js';

/**
 * libpq's sslmode, less `allow`: disable; prefer (TLS when the server offers it, unverified);
 * require (TLS, unverified); verify-ca (the chain against `ca`); verify-full (and the host name).
 * A Unix-domain socket never uses TLS, as with libpq.
 */
export type UpstreamTls = 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type RecordMode = boolean | 'full';
import type { LogLevel } from '../logging/logger.js';

export type { LogLevel };

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly allowPlaintext: boolean;
  readonly maxConnections: number;
  readonly authTimeoutMs: number;
  readonly drainTimeoutMs: number;
  /** The largest message a logged-in client may send (`listen.max-message-bytes`). */
  readonly maxMessageBytes: number;
  /** `listen.memory-budget-bytes`: what all sessions may hold in messages being assembled. */
  readonly memoryBudgetBytes: number;
  /** Gateway processes sharing the port (`listen.workers`, `auto` resolved to the cores). */
  readonly workers: number;
}

export interface EntraConfig {
  readonly tenantId: string;
  readonly audiences: readonly string[];
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  readonly authority: string;
  readonly clockSkewSeconds: number;
  readonly allowUserTokens: boolean;
  readonly jwksCooldownMs: number;
  readonly jwksRefreshMs: number;
  /** Extra CA certificates trusted for the authority and Graph. */
  readonly ca?: Buffer;
  /** The gateway's own application (for Graph and `auth: entra` upstreams). */
  readonly gatewayIdentity?: GatewayIdentityConfig;
  /** Live revocation through Microsoft Graph; absent, only the token's signature and lifetime count. */
  readonly graph?: GraphConfig;
}

export interface GatewayIdentityConfig {
  /** The application (client) id; for a managed identity, set only for a user-assigned one. */
  readonly clientId?: string;
  readonly credential: ClientCredential | { readonly kind: 'managed-identity' };
}

export interface GraphConfig {
  /** e.g. https://graph.microsoft.com, without a trailing slash. */
  readonly endpoint: string;
  readonly cacheMs: number;
  readonly recheckMs: number;
  readonly onUnavailable: 'refuse' | 'allow';
  readonly timeoutMs: number;
}

/** How the gateway logs in to an upstream: a stored password, or its own Entra token. */
export type UpstreamAuth = { readonly kind: 'password'; readonly password: Secret } | { readonly kind: 'entra'; readonly scope: string };

export interface ConnectionConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly auth: UpstreamAuth;
  readonly tls: UpstreamTls;
  readonly ca?: Buffer;
  readonly connectTimeoutMs: number;
  /** The schema unqualified tables are in (the upstream session's search_path). */
  readonly searchPath: string;
  /** Who answers a scoped login's overload lookup: the connection's kept session, or the login's own. */
  readonly overloadLookup: 'kept-session' | 'per-login';
}

export type MappingMatch =
  /** `groupName` when the config named the group; its id is then filled in through Graph at start. */
  | { readonly kind: 'entra-group'; readonly groupId: string; readonly groupName?: string }
  | { readonly kind: 'entra-app-role'; readonly role: string };

/** What one agent may consume (`limits`, an identity-map entry's `limits`, `limits.identities`); absent: no limit. */
export interface SessionLimits {
  /** Concurrent sessions of one identity in this gateway process. */
  readonly maxSessionsPerIdentity?: number;
  readonly statementTimeoutMs?: number;
  readonly idleInTransactionTimeoutMs?: number;
  /** A session that sends nothing while nothing runs is ended after this long. */
  readonly idleTimeoutMs?: number;
  /** Rows one statement may return before the gateway stops it. */
  readonly maxRows?: number;
}

export interface LimitsConfig {
  /** The gateway-wide defaults. */
  readonly defaults: SessionLimits;
  /** Per identity, by app id and by object id (lower-case): these win over the mapping's and the defaults. */
  readonly identities: ReadonlyMap<string, SessionLimits>;
}

/** `admin:`: the operator's HTTP endpoint. */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  /** Every request but the probes must carry it as `Authorization: Bearer …`. */
  readonly token?: Secret;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa?: Buffer };
  /** How often the identity census runs, in ms (0: never). */
  readonly identityCensusMs: number;
}

export interface MappingRule {
  /** Position in identity-map, so a grant can say which entry admitted the session. */
  readonly index: number;
  /** The entry's own `name`, when the config gives one (policy/entry-name.ts names every entry). */
  readonly name?: string;
  readonly match: MappingMatch;
  readonly connection: string;
  readonly scope: string;
  readonly record: RecordMode;
  /** This entry's limits; `maxSessions` counts all identities it admits together. */
  readonly limits: SessionLimits & { readonly maxSessions?: number };
}

/** `approvals`: a request waits `requestTtlMs` for an answer; an approval admits its statement for `approvalTtlMs`. */
export interface ApprovalLimits {
  readonly requestTtlMs: number;
  readonly approvalTtlMs: number;
  /** Requests one identity may have open at once (an agent looping on a refused write cannot fill memory). */
  readonly pendingPerIdentity: number;
  /** How long a statement needing approval is held open for its answer (0: refused at once with its request id). */
  readonly waitMs: number;
  /** While a statement is held for its answer, a NOTICE to the client this often (0: none). */
  readonly heartbeatMs: number;
  /** Dry-run each request's statement (rolled back) to show the approver how many rows it would change. */
  readonly preview: boolean;
  /** Approvals a request needs from different approvers (1 or 2). */
  readonly approversRequired: number;
  /** Entra groups whose members (people, not applications) may decide with their own Entra token. */
  readonly approverGroups: readonly string[];
  /** Where each new request is POSTed as JSON (`approvals.webhook`). */
  readonly webhook?: { readonly url: string; readonly token?: Secret; readonly ca?: Buffer; readonly timeoutMs: number };
}

export interface GatewayConfig {
  /** Where the configuration came from, for messages. */
  readonly source: string;
  readonly listen: ListenConfig;
  readonly entra: EntraConfig;
  readonly connections: ReadonlyMap<string, ConnectionConfig>;
  readonly identityMap: readonly MappingRule[];
  readonly limits: LimitsConfig;
  readonly admin?: AdminConfig;
  readonly recordingsPath: string;
  /** What the writer does when the database file is removed or replaced under it (`recordings.on-replaced`). */
  readonly onReplaced: 'wait' | 'resume';
  /** `recordings.durability`: whether client frames are committed to the log before they are forwarded. */
  readonly recordingDurability: 'write-ahead' | 'batched';
  /** `recordings.sync`: what a commit survives (a killed process, or also a power loss). */
  readonly recordingSync: 'normal' | 'full';
  /** `recordings.central`: the central PostgreSQL audit store, and how many rows may wait unshipped. */
  readonly central?: {
    readonly connection: ConnectionConfig;
    readonly backlogLimit: number;
    /** As written (it may hold a password: never log it). */ readonly url: string;
  };
  /** `recordings.signing-key-file` / `-env`: the node's private key (PEM), which signs its log. */
  readonly signingKey?: Secret;
  /** `recordings.trusted-nodes`: node id → the public keys verify believes for its log. */
  readonly trustedNodes: ReadonlyMap<string, readonly string[]>;
  /** `recordings.anchor`: where and how often the gateway anchors its own log (`to` may hold a password: never log it). */
  readonly anchor?: { readonly to: string; readonly everyMs: number };
  /** This process in a fleet: `node-id`, or host name:listen port. */
  readonly nodeId: string;
  /** The fleet's other gateways (`fleet.peers`), asked to cancel a session this one does not hold. */
  readonly peers: readonly { readonly host: string; readonly port: number }[];
  readonly peerTimeoutMs: number;
  /** End a session when the token it started with expires. */
  readonly endAtTokenExpiry: boolean;
  /** How long approval requests and approvals live, and how many one identity may have waiting. */
  readonly approvals: ApprovalLimits;
  readonly logLevel: LogLevel;
}
