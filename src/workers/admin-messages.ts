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
  | { readonly op: 'terminate'; readonly sessionId: string; readonly requester: Requester };

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
  | { readonly idgate: 'admin-answer'; readonly id: number; readonly op: 'terminate'; readonly terminated: boolean };

export function isAdminAsk(m: unknown): m is AdminAsk {
  return typeof m === 'object' && m !== null && (m as { idgate?: unknown }).idgate === 'admin-ask';
}

export function isAdminAnswer(m: unknown): m is AdminAnswer {
  return typeof m === 'object' && m !== null && (m as { idgate?: unknown }).idgate === 'admin-answer';
}
