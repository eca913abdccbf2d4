import { IdgateError } from '../../../src/idgate-error.js';
/** Why the gateway answers a statement itself instead of letting the server run it. */
export type RejectionCode =
  | 'sql-syntax' // the parser rejects it (42601)
  | 'sql-too-complex' // a parser limit was hit (54001)
  | 'sql-too-long' // longer than the gateway analyses (54000)
  | 'sql-encoding' // not valid UTF-8 (22021)
  | 'sql-unanalysable'; // any other analysis failure: refused all the same

/**
 * A statement the gateway would not forward because it could not analyse it: carries the SQLSTATE
 * the client gets and, for a syntax error, the 1-based character position as Postgres reports it.
 */
export class StatementRejected extends IdgateError {
  override readonly name = 'StatementRejected';
  constructor(
    override readonly code: RejectionCode,
    readonly sqlstate: string,
    message: string,
    readonly position?: number,
  ) {
    super(message);
  }
}
