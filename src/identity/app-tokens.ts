import type { ConfidentialClientApplication, ManagedIdentityApplication } from '@azure/msal-node';
import { EntraCredentialError } from './entra-credential-error.js';

/**
 * Access tokens of one application identity, by scope. msal-node keeps them in its cache and asks
 * Entra again only when a token is close to expiry (its renewal window), so callers ask every time.
 */
export interface AppTokens {
  token(scope: string): Promise<string>;
}

/** A confidential client (secret or certificate): the client-credentials grant. */
export function confidentialTokens(app: ConfidentialClientApplication): AppTokens {
  return {
    token: async (scope) => nonEmpty((await app.acquireTokenByClientCredential({ scopes: [scope] }))?.accessToken),
  };
}

/** A managed identity: tokens per resource (the scope without `/.default`). */
export function managedIdentityTokens(app: ManagedIdentityApplication): AppTokens {
  return {
    token: async (scope) => nonEmpty((await app.acquireToken({ resource: scope.replace(/\/\.default$/, '') })).accessToken),
  };
}

function nonEmpty(token: string | undefined): string {
  if (token === undefined || token === '') throw new EntraCredentialError('Entra returned no token');
  return token;
}
