import { AccessError } from '../access-error.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { sameConnection } from '../config/reload-check.js';
import type { LiveRevocation } from '../identity/live-revocation.js';
import type { TokenVerifier } from '../identity/token-verifier.js';
import type { VerifiedIdentity } from '../identity/verified-identity.js';
import { grantConnection } from '../policy/identity-map.js';
import type { SessionGrant } from '../policy/session-grant.js';

/**
 * Decides whether a credential may open a session on a named connection. Protocols call this and
 * nothing else to authorise: token verification, the Graph check that the identity is still
 * enabled (and its groups, for an overage token), and identity-map matching live here, so every
 * protocol gets the same answer.
 */
export class SessionAuthority {
  constructor(
    private config: GatewayConfig,
    private readonly verifier: TokenVerifier,
    private readonly audit: AuditLog,
    private readonly revocation: LiveRevocation | undefined,
    /** Told how long verifying a token and admitting its identity took, and whether it passed. */
    private readonly observeVerification: (seconds: number, ok: boolean) => void = () => undefined,
  ) {}

  /** A reloaded configuration: new logins are judged by it. */
  replace(config: GatewayConfig): void {
    this.config = config;
  }

  /**
   * Whether a live session's grant still holds under the configuration in force: the same
   * connection entry and an identity-map entry that grants the identity the same scope and
   * recording. Anything else — narrower, wider or gone — is not what the session was admitted with.
   */
  stillGrants(grant: SessionGrant): boolean {
    const connection = this.config.connections.get(grant.connection.name);
    if (connection === undefined || !sameConnection(connection, grant.connection)) return false;
    try {
      const now = grantConnection(grant.identity, connection.name, this.config.connections, this.config.identityMap);
      return now.rule.scope === grant.rule.scope && now.rule.record === grant.rule.record;
    } catch {
      return false;
    }
  }

  async authorize(token: string, connectionName: string): Promise<SessionGrant> {
    const started = performance.now();
    let identity: VerifiedIdentity;
    try {
      const verified = await this.verifier.verify(token);
      identity = this.revocation
        ? await this.revocation.admit(verified, this.mappedGroups(connectionName), this.mappedRoles(connectionName))
        : verified;
    } catch (e) {
      this.observeVerification((performance.now() - started) / 1000, false);
      throw e;
    }
    this.observeVerification((performance.now() - started) / 1000, true);
    const grant = grantConnection(identity, connectionName, this.config.connections, this.config.identityMap);
    // Fail closed: a session whose mapping says it must be recorded cannot start while the audit log is down.
    if (grant.rule.record !== false && !this.audit.healthy) {
      throw new AccessError(
        'audit-unavailable',
        'the audit log cannot be written: sessions that must be recorded are refused until it recovers',
      );
    }
    return grant;
  }

  /** The app roles identity-map entries for this connection grant with. */
  private mappedRoles(connectionName: string): string[] {
    return this.config.identityMap.flatMap((r) =>
      r.connection === connectionName && r.match.kind === 'entra-app-role' ? [r.match.role] : [],
    );
  }

  /** The groups identity-map entries for this connection grant with. */
  private mappedGroups(connectionName: string): string[] {
    return this.config.identityMap.flatMap((r) =>
      r.connection === connectionName && r.match.kind === 'entra-group' ? [r.match.groupId] : [],
    );
  }
}
