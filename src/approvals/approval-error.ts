import { IdgateError } from '../idgate-error.js';

export type ApprovalErrorCode =
  | 'no-such-approval' // no request with that id in this gateway
  | 'approval-not-pending' // already answered, used or expired
  | 'approval-reason-required' // a decision without a reason
  | 'approval-self' // the approver is the identity that asked
  | 'approver-already-approved' // the same approver again, where a second one is required
  | 'approver-not-a-person' // an Entra token of an application (an agent), not of a person
  | 'approver-not-in-group' // a person's Entra token, not in approvals.approver-groups
  | 'approver-token-refused' // an Entra token that did not verify
  | 'approval-lookup-failed'; // the gateway's other workers did not say in time where a statement stands

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
