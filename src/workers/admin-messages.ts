import type { ApprovalAnswer } from '../admin/admin-backend.js';
import type { ApprovalView } from '../admin/approval-view.js';
import type { ApprovalErrorCode } from '../approvals/approval-error.js';
import type { ReadinessCheck } from '../admin/admin-backend.js';
import type { SessionView } from '../admin/session-view.js';
import type { Requester } from '../session/session-registry.js';

/**
 * What the primary of `listen.workers` asks its workers for the admin endpoint it serves for all
 * of them, and what they answer, over Node's cluster IPC.
 */
export type AdminRequest =
  | { readonly op: 'metrics' }
  | { readonly op: 'readiness' }
  | { readonly op: 'sessions' }
  | { readonly op: 'terminate'; readonly sessionId: string; readonly requester: Requester }
  | { readonly op: 'approvals' }
  | { readonly op: 'decide'; readonly approvalId: string; readonly answer: ApprovalAnswer };

export type AdminAsk = AdminRequest & { readonly idgate: 'admin-ask'; readonly id: number };

export type AdminAnswer =
  /** The worker's metrics as prom-client's JSON (the primary aggregates them). */
  | { readonly idgate: 'admin-answer'; readonly id: number; readonly op: 'metrics'; readonly metrics: unknown }
  | {
      readonly idgate: 'admin-answer';
      readonly id: number;
      readonly op: 'readiness';
      readonly node: string;
      readonly checks: readonly ReadinessCheck[];
    }
  | { readonly idgate: 'admin-answer'; readonly id: number; readonly op: 'sessions'; readonly sessions: readonly SessionView[] }
  | { readonly idgate: 'admin-answer'; readonly id: number; readonly op: 'terminate'; readonly terminated: boolean }
  | { readonly idgate: 'admin-answer'; readonly id: number; readonly op: 'approvals'; readonly approvals: readonly ApprovalView[] }
  /** `held` false: no such request in that worker; `problem`: it holds it, and it cannot be answered as asked. */
  | {
      readonly idgate: 'admin-answer';
      readonly id: number;
      readonly op: 'decide';
      readonly held: boolean;
      readonly view?: ApprovalView;
      readonly problem?: { readonly code: ApprovalErrorCode; readonly message: string };
    };

export function isAdminAsk(m: unknown): m is AdminAsk {
  return typeof m === 'object' && m !== null && (m as { idgate?: unknown }).idgate === 'admin-ask';
}

export function isAdminAnswer(m: unknown): m is AdminAnswer {
  return typeof m === 'object' && m !== null && (m as { idgate?: unknown }).idgate === 'admin-answer';
}
