import type { ApprovalOutcome, ApprovalState } from '../../../src/approvals/approval-registry.js';
import { lookupFailed, verdictFor, verdictOf } from './approval-verdict.js';
import type { Verdict } from './decision-cache.js';
import type { GateEvents } from './gate-events.js';

type Denial = Extract<Verdict, { allowed: false }>;

/**
 * `approvals.wait`: a Query, or a Bind of a prepared statement, whose request is pending is held
 * — the client's stream waits behind it, as behind a statement judged off the relay thread —
 * until a person answers (then it runs, or is refused with who refused it and why), the wait ends
 * (refused with its request id, which stays open: sending it again once approved runs it), or the
 * client cancels it, as psql does on Ctrl-C (57014; the request stays open too).
 */
export class ApprovalWait {
  /** Stops the wait under way, if any, as a cancel. */
  private cancelCurrent: (() => void) | undefined;
  /** A statement's approval is being looked up or waited for; a cancel meanwhile refuses it at the end. */
  private inFlight = false;
  private cancelSoon = false;
  /** The request the statement in flight waits on, once known. */
  private requestId: string | undefined;

  constructor(
    private readonly events: GateEvents,
    private readonly awaitApproval: NonNullable<GateEvents['awaitApproval']>,
  ) {}

  /** The verdict on a Query that needs approval (`what`): at once when it is not pending, else once the wait ends. */
  judge(verdict: Denial, what: string, sql: string, params?: string): Verdict | Promise<Verdict> {
    const outcome = this.events.approvalNeeded(sql, what, params);
    if (!(outcome instanceof Promise) && outcome.kind !== 'pending') return verdictFor(verdict, what, outcome);
    this.inFlight = true;
    this.cancelSoon = false;
    this.requestId = undefined;
    const waited = Promise.resolve(outcome).then(
      (found) => this.held(verdict, what, found, () => this.events.approvalNeeded(sql, what, params)),
      () => lookupFailed(verdict, what),
    );
    return waited.then((v) => {
      this.inFlight = false;
      return this.cancelSoon ? this.cancelled(v, what) : v;
    });
  }

  /** A CancelRequest for the session: the statement held, if any, stops waiting and is refused with 57014. */
  cancel(): void {
    if (!this.inFlight) return;
    this.cancelSoon = true;
    this.cancelCurrent?.();
  }

  /** Pending: waits for the answer — approved, takes the approval now (this statement uses it); refused, says who and why. */
  private async held(
    verdict: Denial,
    what: string,
    outcome: ApprovalOutcome,
    askAgain: () => ApprovalOutcome | Promise<ApprovalOutcome>,
  ): Promise<Verdict> {
    const now = verdictFor(verdict, what, outcome);
    if (outcome.kind !== 'too-many') this.requestId = outcome.request.id;
    if (outcome.kind !== 'pending' || this.cancelSoon) return now;
    const state = await new Promise<ApprovalState | 'cancelled'>((resolve) => {
      const stop = this.awaitApproval(outcome.request.id, resolve);
      this.cancelCurrent = () => {
        stop();
        resolve('cancelled');
      };
    });
    this.cancelCurrent = undefined;
    if (state !== 'approved' && state !== 'refused') return now;
    return verdictOf(verdict, what, askAgain());
  }

  /** The client cancelled while the statement waited: 57014, and an approval it took meanwhile stands again. */
  private cancelled(verdict: Verdict, what: string): Verdict {
    if (verdict.allowed && verdict.approvalTaken !== undefined) {
      this.events.approvalNotRun?.(verdict.approvalTaken, 'the client cancelled it');
    }
    const kept =
      this.requestId === undefined ? '' : `, and request ${this.requestId} is kept (send the same statement again once it is approved)`;
    return { allowed: false, sqlstate: '57014', message: `canceling statement due to user request: ${what} needs approval${kept}` };
  }
}
