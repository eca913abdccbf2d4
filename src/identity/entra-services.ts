import type { ConfidentialClientApplication } from '@azure/msal-node';
import type { EntraConfig } from '../config/gateway-config.js';
import type { Logger } from '../logging/logger.js';
import { EntraHttp } from './entra-http.js';
import { GraphClient } from './graph-client.js';
import { jwksUrl } from './jwks-url.js';
import { LiveRevocation } from './live-revocation.js';
import { confidentialClient } from './msal-apps.js';
import { SigningKeys } from './signing-keys.js';
import { TokenVerifier } from './token-verifier.js';
import { GatewayUpstreamPasswords } from './upstream-passwords.js';

/** Everything the gateway does with Entra, built from `entra:` and sharing one HTTPS client. */
export interface EntraServices {
  readonly http: EntraHttp;
  readonly signingKeys: SigningKeys;
  readonly verifier: TokenVerifier;
  /** The gateway's own application, when `entra.gateway-identity` is set. */
  readonly gatewayApp: ConfidentialClientApplication | undefined;
  readonly graph: GraphClient | undefined;
  /** Live revocation, when `entra.graph` is set. */
  readonly revocation: LiveRevocation | undefined;
  readonly upstreamPasswords: GatewayUpstreamPasswords;
  close(): void;
}

export function createEntraServices(entra: EntraConfig, logger: Logger): EntraServices {
  const http = new EntraHttp({ ...(entra.ca ? { ca: entra.ca } : {}), timeoutMs: entra.graph?.timeoutMs ?? 5000 });
  const signingKeys = new SigningKeys(jwksUrl(entra.authority, entra.tenantId).href, http, { refreshMs: entra.jwksRefreshMs, cooldownMs: entra.jwksCooldownMs }, logger);
  const verifier = new TokenVerifier(entra, signingKeys.getKey);
  signingKeys.onRemoved((kids) => verifier.forgetKeys(kids));
  const identity = entra.gatewayIdentity;
  const gatewayApp = identity && confidentialClient({ authority: entra.authority, tenantId: entra.tenantId, clientId: identity.clientId, credential: identity.credential, http });
  const graph = gatewayApp && entra.graph ? new GraphClient(entra.graph.endpoint, gatewayApp, http) : undefined;
  const revocation = graph && entra.graph ? new LiveRevocation(graph, entra.graph, logger) : undefined;
  return {
    http,
    signingKeys,
    verifier,
    gatewayApp,
    graph,
    revocation,
    upstreamPasswords: new GatewayUpstreamPasswords(gatewayApp),
    close: () => {
      signingKeys.stop();
      http.close();
    },
  };
}
