import type { Secret } from './secret.js';

export type UpstreamTls = 'disable' | 'require' | 'verify-full';
export type RecordMode = boolean | 'full';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly allowPlaintext: boolean;
  readonly maxConnections: number;
  readonly authTimeoutMs: number;
  readonly drainTimeoutMs: number;
}

export interface EntraConfig {
  readonly tenantId: string;
  readonly audiences: readonly string[];
  /** Without a trailing slash, e.g. https://login.microsoftonline.com */
  readonly authority: string;
  readonly clockSkewSeconds: number;
  readonly allowUserTokens: boolean;
  readonly jwksCooldownMs: number;
}

export interface ConnectionConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: Secret;
  readonly tls: UpstreamTls;
  readonly ca?: Buffer;
  readonly connectTimeoutMs: number;
  /** The schema unqualified tables are in (the upstream session's search_path). */
  readonly searchPath: string;
}

export type MappingMatch =
  | { readonly kind: 'entra-group'; readonly groupId: string }
  | { readonly kind: 'entra-app-role'; readonly role: string };

export interface MappingRule {
  /** Position in identity-map, so a grant can say which entry admitted the session. */
  readonly index: number;
  readonly match: MappingMatch;
  readonly connection: string;
  readonly scope: string;
  readonly record: RecordMode;
}

export interface GatewayConfig {
  /** Where the configuration came from, for messages. */
  readonly source: string;
  readonly listen: ListenConfig;
  readonly entra: EntraConfig;
  readonly connections: ReadonlyMap<string, ConnectionConfig>;
  readonly identityMap: readonly MappingRule[];
  readonly recordingsPath: string;
  readonly logLevel: LogLevel;
}
