import type { ApprovalOutcome, ApprovalRequest } from '../../../src/approvals/approval-registry.js';
import type { Verdict } from './decision-cache.js';

type Denial = Extract<Verdict, { allowed: false }>;

/** The verdict on a statement that needs approval, from where its request stands (no longer marked as needing one). */
export function verdictFor(verdict: Denial, what: string, outcome: ApprovalOutcome): Verdict {
  const { sqlstate } = verdict;
  switch (outcome.kind) {
    case 'approved':
      // A statement that changes how the session reads statements still marks it when it runs approved.
      return {
        allowed: true,
        approvalTaken: outcome.request.id,
        ...(verdict.changesReading !== undefined ? { changesReading: verdict.changesReading } : {}),
      };
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

/**
 * The same, from an outcome that may come later (an approval looked up in the other workers). A
 * lookup that fails is a refusal: the statement does not run without its approval found.
 */
export function verdictOf(verdict: Denial, what: string, outcome: ApprovalOutcome | Promise<ApprovalOutcome>): Verdict | Promise<Verdict> {
  if (!(outcome instanceof Promise)) return verdictFor(verdict, what, outcome);
  return outcome.then(
    (found) => verdictFor(verdict, what, found),
    () => lookupFailed(verdict, what),
  );
}

/** Where a statement's approval stands could not be found out: it is refused (fail closed). */
export function lookupFailed(verdict: Denial, what: string): Verdict {
  return {
    allowed: false,
    sqlstate: verdict.sqlstate,
    message: `${what} needs approval, and where its approval stands could not be found out`,
  };
}

function approvalMessage(what: string, request: ApprovalRequest): string {
  return `${what} needs approval: request ${request.id} (statement ${request.fingerprint.slice(0, 12)}) waits for an approver (idgate approvals; idgate approve ${request.id} --reason …); send the same statement again once it is approved`;
}

function refusalMessage(what: string, request: ApprovalRequest): string {
  const d = request.decision;
  return `${what} needs approval: request ${request.id} was refused by ${d?.by ?? '?'} (${d?.reason ?? ''})`;
}

/** The reply tracker's tag on a forwarded message that took an approval: given back if the server skips it (or refuses its Bind). */
export interface ApprovalTaken {
  readonly approvalTaken: string;
  readonly atBind: boolean;
  /** The statement changes how the session reads statements (reading-settings.ts). */
  readonly changesReading?: string;
}

export function approvalTakenBy(verdict: Verdict, atBind: boolean): ApprovalTaken | undefined {
  if (!verdict.allowed || verdict.approvalTaken === undefined) return undefined;
  const taken = { approvalTaken: verdict.approvalTaken, atBind };
  return verdict.changesReading === undefined ? taken : { ...taken, changesReading: verdict.changesReading };
}

/**
 * A statement needing approval in a session that changed, after login, a setting that changes how
 * statements read: refused (0A000), as what an approval cannot pin is — the approval would admit
 * the text, and the text would mean something else here than to the person who approved it.
 */
export function unpinnableHere(what: string, setting: string): Denial {
  return {
    allowed: false,
    sqlstate: '0A000',
    message: `${what} needs approval, which cannot be pinned in this session: it changed ${setting} after login, which changes what a statement means; send it from a session that sets ${setting} at login (a startup parameter), if at all`,
  };
}
