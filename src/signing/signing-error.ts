import { IdgateError } from '../idgate-error.js';

/** A node key that cannot be used as given. */
export class SigningError extends IdgateError {
  override readonly name = 'SigningError';
  constructor(
    override readonly code: 'key-invalid', // not an Ed25519 private key in PEM
    message: string,
  ) {
    super(message);
  }
}
