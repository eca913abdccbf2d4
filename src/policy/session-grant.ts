import type { ConnectionConfig, MappingRule } from '../config/gateway-config.js';
import type { VerifiedIdentity } from '../identity/verified-identity.js';

/** Why a session exists: who, through which identity-map entry, to which connection. */
export interface SessionGrant {
  readonly identity: VerifiedIdentity;
  readonly rule: MappingRule;
  readonly connection: ConnectionConfig;
}
