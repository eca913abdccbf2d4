import { AccessError } from '../access-error.js';
import type { ConnectionConfig } from '../config/gateway-config.js';
import { Secret } from '../config/secret.js';
import type { AppTokens } from './app-tokens.js';

/** Where the password for an upstream login comes from. */
export interface UpstreamPasswords {
  password(connection: ConnectionConfig): Promise<Secret>;
}

/** Stored passwords only: what tools without the gateway's Entra identity use. */
export const STORED_PASSWORDS: UpstreamPasswords = {
  password: (connection) => {
    if (connection.auth.kind === 'password') return Promise.resolve(connection.auth.password);
    return Promise.reject(
      new AccessError(
        'upstream-credential-unavailable',
        `connection "${connection.name}" logs in with the gateway's Entra identity, which is not available here`,
      ),
    );
  },
};

/**
 * Passwords for the gateway's upstream logins: a connection's stored password, or for `auth: entra`
 * an access token of the gateway's own identity for the connection's scope, as Azure Database for
 * PostgreSQL takes it. msal-node caches the token and asks Entra for a new one before it expires
 * (within its renewal window), so each login gets a token that is still valid. Logins that ask
 * while a request for the scope is on its way share its answer: a burst of logins at renewal time
 * (or a login and the overload lookup's kept session beside it) makes one request to Entra, not
 * one each — Entra throttles an application that asks too often.
 */
export class GatewayUpstreamPasswords implements UpstreamPasswords {
  private readonly pending = new Map<string, Promise<Secret>>();

  constructor(private readonly tokens: AppTokens | undefined) {}

  async password(connection: ConnectionConfig): Promise<Secret> {
    if (connection.auth.kind === 'password') return connection.auth.password;
    const tokens = this.tokens;
    if (tokens === undefined) return STORED_PASSWORDS.password(connection);
    const scope = connection.auth.scope;
    let request = this.pending.get(scope);
    if (request === undefined) {
      request = this.requestToken(tokens, scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, request);
    }
    return request;
  }

  private async requestToken(tokens: AppTokens, scope: string): Promise<Secret> {
    try {
      return new Secret(await tokens.token(scope));
    } catch (e) {
      throw new AccessError(
        'upstream-credential-unavailable',
        'the gateway could not obtain its Entra token for the upstream database',
        undefined,
        e instanceof Error ? e.message : String(e),
      );
    }
  }
}
