import type { ApprovalOutcome, ApprovalRequest } from '../../../src/approvals/approval-registry.js';
import type { Verdict } from './decision-cache.js';

type Denial = Extract<Verdict, { allowed: false }>;
const ALLOWED: Verdict = { allowed: true };

/** The verdict on a statement that needs approval, from where its request stands (no longer marked as needing one). */
export function verdictFor(verdict: Denial, what: string, outcome: ApprovalOutcome): Verdict {
  const { sqlstate } = verdict;
  switch (outcome.kind) {
    case 'approved':
      return ALLOWED;
    case 'pending':
      return { allowed: false, sqlstate, message: approvalMessage(what, outcome.request) };
    case 'refused':
      return { allowed: false, sqlstate, message: refusalMessage(what, outcome.request) };
    case 'too-many':
      return {
        allowed: false,
        sqlstate: '53400',
        message: `${what} needs approval, and this identity has ${outcome.limit} requests waiting already`,
      };
  }
}

function approvalMessage(what: string, request: ApprovalRequest): string {
  return `${what} needs approval: request ${request.id} (statement ${request.fingerprint.slice(0, 12)}) waits for an approver (idgate approvals; idgate approve ${request.id} --reason …); send the same statement again once it is approved`;
}

function refusalMessage(what: string, request: ApprovalRequest): string {
  const d = request.decision;
  return `${what} needs approval: request ${request.id} was refused by ${d?.by ?? '?'} (${d?.reason ?? ''})`;
}
