import type { ApprovalOutcome, ApprovalState } from '../../../src/approvals/approval-registry.js';
import type { Verdict } from './decision-cache.js';

type Denial = Extract<Verdict, { allowed: false }>;

/** What the statement gate tells its session of, and asks it. */
export interface GateEvents {
  /** The application_name a lone `SET application_name = asked` sets instead: the agent's name first, as at login. */
  readonly pinnedApplicationName: (asked: string) => string;
  /** A statement was refused: what it was (as text; invalid UTF-8 shown replaced) and what the client is told. */
  readonly denied: (sql: string, denial: Denial) => void;
  /** The server reported a lexical setting the analysis does not model: the session must end now. */
  readonly lexicalStateChanged: (problem: string) => void;
  /**
   * A statement the scope allows once a person approves it (`what`): where its approval stands —
   * at once, or later when it is looked up elsewhere (the gateway's other workers); meanwhile the
   * client's stream waits behind the statement.
   */
  readonly approvalNeeded: (sql: string, what: string, params?: string) => ApprovalOutcome | Promise<ApprovalOutcome>;
  /**
   * With `approvals.wait`: holds the statement open until request `id` is answered (or the wait
   * ends), then calls back with its state; the function returned stops waiting (the client
   * cancelled). Undefined when statements are not held (refused at once).
   */
  readonly awaitApproval?: (id: string, answered: (state: ApprovalState) => void) => () => void;
  /** The statement that took approval `id` never ran: the server skipped it, or refused its Bind. */
  readonly approvalNotRun?: (id: string, why: string) => void;
}
