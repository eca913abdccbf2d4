import { IdgateError } from './idgate-error.js';

/**
 * Why a client was refused or a session ended, as a closed set of stable codes. A protocol turns
 * each code into its own wire error (Postgres: a SQLSTATE); the message is safe to show a client
 * and never contains a token or secret.
 */
export type AccessErrorCode =
  | 'token-malformed'
  | 'token-expired'
  | 'token-not-yet-valid'
  | 'token-bad-signature'
  | 'token-unknown-key'
  | 'token-wrong-algorithm'
  | 'token-wrong-issuer'
  | 'token-wrong-tenant'
  | 'token-wrong-audience'
  | 'token-not-app-only'
  | 'token-unverifiable'
  | 'signing-keys-unavailable'
  | 'unknown-connection'
  | 'not-mapped'
  | 'identity-disabled'
  | 'identity-check-unavailable'
  | 'upstream-credential-unavailable'
  | 'encryption-required'
  | 'startup-parameter-refused'
  | 'scope-unsupported' // a parsed scope cannot be enforced on this session (a setting or server it cannot analyse)
  | 'upstream-unreachable'
  | 'upstream-rejected'
  | 'upstream-full' // the upstream has no connection slot (its own 53300): a driver retries that
  | 'upstream-not-ready' // the upstream is starting up or shutting down (its own 57P03)
  | 'too-many-connections'
  | 'session-limit' // a configured max-sessions limit is full
  | 'auth-timeout'
  | 'audit-unavailable'
  | 'shutting-down';

export class AccessError extends IdgateError {
  override readonly name = 'AccessError';
  constructor(
    override readonly code: AccessErrorCode,
    message: string,
    /** Shown to the client as DETAIL. */
    readonly detail?: string,
    /** For the gateway's own log only (e.g. the upstream's words); never sent to the client. */
    readonly internalDetail?: string,
    /** Who was refused, when the token had verified (for the audit log's login attempts). */
    readonly subject?: { readonly objectId: string; readonly appId: string },
  ) {
    super(message);
  }
}

export function isAccessError(e: unknown): e is AccessError {
  return e instanceof AccessError;
}
