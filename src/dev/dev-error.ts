import { IdgateError } from '../idgate-error.js';

/** `idgate dev`'s own environment (the local Postgres, the Entra simulator) cannot start or was asked for what it lacks. */
export class DevEnvironmentError extends IdgateError {
  override readonly name = 'DevEnvironmentError';
  constructor(
    override readonly code: 'postgres-missing' | 'running-as-root' | 'cluster-unresponsive' | 'unknown-object',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
