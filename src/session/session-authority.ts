import { AccessError } from '../access-error.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import { grantConnection } from '../policy/identity-map.js';
import type { SessionGrant } from '../policy/session-grant.js';

/**
 * Decides whether a credential may open a session on a named connection. Protocols call this and
 * nothing else to authorise: token verification and identity-map matching live here, so every
 * protocol gets the same answer (and the Graph lookups of live revocation belong here too).
 */
export class SessionAuthority {
  constructor(
    private readonly config: GatewayConfig,
    private readonly verifier: TokenVerifier,
    private readonly audit: AuditLog,
  ) {}

  async authorize(token: string, connectionName: string): Promise<SessionGrant> {
    const identity = await this.verifier.verify(token);
    const grant = grantConnection(identity, connectionName, this.config.connections, this.config.identityMap);
    // Fail closed: a session whose mapping says it must be recorded cannot start while the audit log is down.
    if (grant.rule.record !== false && !this.audit.healthy) {
      throw new AccessError('audit-unavailable', 'the audit log cannot be written: sessions that must be recorded are refused until it recovers');
    }
    return grant;
  }
}
