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
  ) {}

  async authorize(token: string, connectionName: string): Promise<SessionGrant> {
    const identity = await this.verifier.verify(token);
    return grantConnection(identity, connectionName, this.config.connections, this.config.identityMap);
  }
}
