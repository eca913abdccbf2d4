import type { ApprovalDecision } from '../approvals/approval-registry.js';
import type { ApprovalView } from './approval-view.js';
import type { Requester } from '../session/session-registry.js';
import type { SessionView } from './session-view.js';

export interface ReadinessCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/**
 * What the admin endpoint serves, whoever holds it: one gateway process answers for itself; the
 * primary of `listen.workers` answers for all its workers.
 */
export interface AdminBackend {
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  readiness(): Promise<readonly ReadinessCheck[]>;
  sessions(): Promise<readonly SessionView[]>;
  /** Ends the session with `admin-terminated`; false when no such session is live here. */
  terminate(id: string, requester: Requester): Promise<boolean>;
  /** The statements held for approval, and the approvals given, still held. */
  approvals(): Promise<readonly ApprovalView[]>;
  /**
   * A person's answer to a pending request: the request as it now stands, or undefined when no
   * such request is held here. Throws ApprovalError when it cannot be answered (not pending, no reason).
   */
  decide(id: string, decision: ApprovalAnswer): Promise<ApprovalView | undefined>;
}

/** An approver's answer, and how they proved who they are: a decision before the registry stamps its time. */
export type ApprovalAnswer = Omit<ApprovalDecision, 'atMs'>;
