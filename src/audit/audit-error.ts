import { IdgateError } from '../idgate-error.js';

export type AuditErrorCode =
  | 'audit-replaced' // the database file was removed or replaced under the writer
  | 'audit-locked' // another idgate writes this database
  | 'audit-schema-newer' // written by a newer idgate
  | 'audit-unopenable' // the writer could not open or recover the database
  | 'audit-no-log' // the database has no log id yet
  | 'audit-key-needed' // a signed log's change (a prune) needs the node key it is signed with
  | 'audit-anchors-unreadable' // an anchor target cannot be read, or holds what is not an anchor
  | 'central-schema-mismatch' // the central store's schema is not the one this idgate needs
  | 'central-login-unsupported'; // the central store's connection does not log in with a password

/** The audit database or the central store cannot be used as asked. */
export class AuditError extends IdgateError {
  override readonly name = 'AuditError';
  constructor(
    override readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
  }
}
