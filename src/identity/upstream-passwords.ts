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
 * (within its renewal window), so each login gets a token that is still valid.
 */
export class GatewayUpstreamPasswords implements UpstreamPasswords {
  constructor(private readonly tokens: AppTokens | undefined) {}

  async password(connection: ConnectionConfig): Promise<Secret> {
    if (connection.auth.kind === 'password') return connection.auth.password;
    if (this.tokens === undefined) return STORED_PASSWORDS.password(connection);
    try {
      return new Secret(await this.tokens.token(connection.auth.scope));
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
