import type { ApprovalPin, ApprovalRequest, ApprovalState } from '../approvals/approval-registry.js';

/**
 * What the workers of one gateway (listen.workers) and their primary say to each other about
 * approvals, over Node's cluster IPC: a worker that holds nothing for a statement needing approval
 * asks where it stands in the others (an approval found is taken for its session), and a request
 * answered or expired in one worker is told to the others (sessions waiting on it there hear it).
 */
export type ApprovalMessage =
  /** worker → primary: where does the pinned statement stand in the other workers? */
  | { readonly idgate: 'approval-claim'; readonly id: number; readonly pin: ApprovalPin; readonly sessionId: string }
  /** primary → worker: where does it stand here? (nothing changes) */
  | { readonly idgate: 'approval-peek'; readonly id: number; readonly origin: number; readonly pin: ApprovalPin }
  | { readonly idgate: 'approval-peeked'; readonly id: number; readonly origin: number; readonly request: ApprovalRequest | null }
  /** primary → worker: take approval `requestId` for session `sessionId` of another worker. */
  | {
      readonly idgate: 'approval-take';
      readonly id: number;
      readonly origin: number;
      readonly requestId: string;
      readonly sessionId: string;
    }
  | { readonly idgate: 'approval-taken'; readonly id: number; readonly origin: number; readonly request: ApprovalRequest | null }
  /** primary → the asking worker: the approval taken for it, or the request found, or null. */
  | { readonly idgate: 'approval-found'; readonly id: number; readonly request: ApprovalRequest | null }
  /** worker → primary → every other worker: request `requestId` was answered or expired. */
  | { readonly idgate: 'approval-settled'; readonly requestId: string; readonly state: ApprovalState };

const KINDS = new Set([
  'approval-claim',
  'approval-peek',
  'approval-peeked',
  'approval-take',
  'approval-taken',
  'approval-found',
  'approval-settled',
]);

export function isApprovalMessage(m: unknown): m is ApprovalMessage {
  return typeof m === 'object' && m !== null && KINDS.has(String((m as { idgate?: unknown }).idgate));
}
