import type { EntraConfig } from '../config/gateway-config.js';
import type { Logger } from '../logging/logger.js';
import { confidentialTokens, managedIdentityTokens, type AppTokens } from './app-tokens.js';
import { EntraHttp } from './entra-http.js';
import { GraphClient } from './graph-client.js';
import { jwksUrl } from './jwks-url.js';
import { LiveRevocation } from './live-revocation.js';
import { SigningKeys } from './signing-keys.js';
import { TokenVerifier } from './token-verifier.js';
import { GatewayUpstreamPasswords } from './upstream-passwords.js';

/** Everything the gateway does with Entra, built from `entra:` and sharing one HTTPS client. */
export interface EntraServices {
  readonly http: EntraHttp;
  readonly signingKeys: SigningKeys;
  readonly verifier: TokenVerifier;
  readonly graph: GraphClient | undefined;
  /** Live revocation, when `entra.graph` is set. */
  readonly revocation: LiveRevocation | undefined;
  readonly upstreamPasswords: GatewayUpstreamPasswords;
  close(): void;
}

export interface EntraObservers {
  /** Each Microsoft Graph request: how long it took and whether Graph answered. */
  readonly graphRequest?: (seconds: number, ok: boolean) => void;
}

export async function createEntraServices(entra: EntraConfig, logger: Logger, observers: EntraObservers = {}): Promise<EntraServices> {
  const http = new EntraHttp({ ...(entra.ca ? { ca: entra.ca } : {}), timeoutMs: entra.graph?.timeoutMs ?? 5000 });
  const signingKeys = new SigningKeys(
    jwksUrl(entra.authority, entra.tenantId).href,
    http,
    { refreshMs: entra.jwksRefreshMs, cooldownMs: entra.jwksCooldownMs },
    logger,
  );
  const verifier = new TokenVerifier(entra, signingKeys.getKey);
  signingKeys.onRemoved((kids) => verifier.forgetKeys(kids));
  const gatewayTokens = await gatewayIdentityTokens(entra, http);
  const graph =
    gatewayTokens && entra.graph ? new GraphClient(entra.graph.endpoint, gatewayTokens, http, observers.graphRequest) : undefined;
  const revocation = graph && entra.graph ? new LiveRevocation(graph, entra.graph, logger) : undefined;
  return {
    http,
    signingKeys,
    verifier,
    graph,
    revocation,
    upstreamPasswords: new GatewayUpstreamPasswords(gatewayTokens),
    close: () => {
      signingKeys.stop();
      http.close();
    },
  };
}

/**
 * The gateway's own identity's tokens, when it has one. msal-node is loaded only then: it is the
 * largest library of a gateway's start (~170 ms of CPU module by module), and most gateways sign
 * in to no Entra application of their own.
 */
async function gatewayIdentityTokens(entra: EntraConfig, http: EntraHttp): Promise<AppTokens | undefined> {
  const identity = entra.gatewayIdentity;
  if (identity === undefined) return undefined;
  const { confidentialClient, managedIdentityClient } = await import('./msal-apps.js');
  if (identity.credential.kind === 'managed-identity') return managedIdentityTokens(managedIdentityClient(http, identity.clientId));
  const clientId = identity.clientId ?? '';
  return confidentialTokens(
    confidentialClient({ authority: entra.authority, tenantId: entra.tenantId, clientId, credential: identity.credential, http }),
  );
}
