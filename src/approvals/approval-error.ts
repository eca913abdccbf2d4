import { IdgateError } from '../idgate-error.js';

export type ApprovalErrorCode =
  | 'no-such-approval' // no request with that id in this gateway
  | 'approval-not-pending' // already answered, used or expired
  | 'approval-reason-required'; // a decision without a reason

/** An approval decision that cannot be taken as asked. */
export class ApprovalError extends IdgateError {
  override readonly name = 'ApprovalError';
  constructor(
    override readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
  }
}
