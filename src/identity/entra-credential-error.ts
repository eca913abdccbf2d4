import { IdgateError } from '../idgate-error.js';

/** The gateway's own Entra credential cannot be used (a certificate file without its key, no token from Entra). */
export class EntraCredentialError extends IdgateError {
  override readonly name = 'EntraCredentialError';
  override readonly code = 'entra-credential';
}
