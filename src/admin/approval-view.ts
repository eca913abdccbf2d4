import type { ApprovalDecision, ApprovalPreview, ApprovalRequest } from '../approvals/approval-registry.js';

/** An approval request as `GET /approvals` shows it (and `idgate approvals` prints it). */
export interface ApprovalView {
  readonly id: string;
  readonly node: string;
  readonly state: ApprovalRequest['state'];
  readonly identity: string;
  readonly appId: string;
  readonly displayName: string | null;
  readonly connection: string;
  readonly entry: string;
  /** The session that asked. */
  readonly sessionId: string;
  readonly sql: string;
  /** The bound values (JSON) of a prepared statement's Bind; null for a simple query. */
  readonly params: string | null;
  /** The asking session's login settings that change what a statement means (JSON by name), pinned with it; null when none. */
  readonly settings: string | null;
  readonly fingerprint: string;
  readonly what: string;
  readonly requestedAt: string;
  readonly decision: DecisionView | null;
  /** Every approval given so far (two before it runs, with `approvals.approvers-required: 2`). */
  readonly approvals: readonly DecisionView[];
  readonly usedBy: string | null;
  /** The dry run's row count or why there is none; null while it runs or when previews are off. */
  readonly preview: ApprovalPreview | null;
}

export type DecisionView = Omit<ApprovalDecision, 'atMs' | 'approverId'> & { readonly at: string };

export function decisionView(d: ApprovalDecision): DecisionView {
  return { approve: d.approve, by: d.by, via: d.via, from: d.from, reason: d.reason, at: new Date(d.atMs).toISOString() };
}

export function approvalView(r: ApprovalRequest, node: string): ApprovalView {
  const d = r.decision;
  return {
    id: r.id,
    node,
    state: r.state,
    identity: r.asker.objectId,
    appId: r.asker.appId,
    displayName: r.asker.displayName ?? null,
    connection: r.asker.connection,
    entry: r.asker.entry,
    sessionId: r.asker.sessionId,
    sql: r.sql,
    params: r.params ?? null,
    settings: r.asker.settings ?? null,
    fingerprint: r.fingerprint,
    what: r.what,
    requestedAt: new Date(r.requestedAtMs).toISOString(),
    decision: d === undefined ? null : decisionView(d),
    approvals: r.approvals.map(decisionView),
    usedBy: r.usedBy ?? null,
    preview: r.preview ?? null,
  };
}
