import type { AdminBackend } from '../admin/admin-backend.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { isAdminAsk, type AdminAnswer, type AdminAsk } from './admin-messages.js';
import { ApprovalError } from '../approvals/approval-error.js';

/** A worker's side of the admin endpoint its primary serves: answers the primary's asks from this process's own state. */
export function answerAdminAsks(channel: NodeJS.Process, backend: AdminBackend, metrics: GatewayMetrics, node: string): void {
  channel.on('message', (m: unknown) => {
    if (!isAdminAsk(m)) return;
    answer(m, backend, metrics, node)
      .then((reply) => channel.send?.(reply))
      .catch(() => undefined); // the primary times the ask out
  });
}

async function answer(ask: AdminAsk, backend: AdminBackend, metrics: GatewayMetrics, node: string): Promise<AdminAnswer> {
  switch (ask.op) {
    case 'metrics':
      return { idgate: 'admin-answer', id: ask.id, op: 'metrics', metrics: await metrics.registry.getMetricsAsJSON() };
    case 'readiness':
      return { idgate: 'admin-answer', id: ask.id, op: 'readiness', node, checks: await backend.readiness() };
    case 'sessions':
      return { idgate: 'admin-answer', id: ask.id, op: 'sessions', sessions: await backend.sessions() };
    case 'terminate':
      return { idgate: 'admin-answer', id: ask.id, op: 'terminate', terminated: await backend.terminate(ask.sessionId, ask.requester) };
    case 'approvals':
      return { idgate: 'admin-answer', id: ask.id, op: 'approvals', approvals: await backend.approvals() };
    case 'decide':
      return decide(ask, backend);
  }
}

async function decide(ask: Extract<AdminAsk, { op: 'decide' }>, backend: AdminBackend): Promise<AdminAnswer> {
  const base = { idgate: 'admin-answer', id: ask.id, op: 'decide' } as const;
  try {
    const view = await backend.decide(ask.approvalId, ask.answer);
    return view === undefined ? { ...base, held: false } : { ...base, held: true, view };
  } catch (e) {
    if (!(e instanceof ApprovalError)) throw e;
    return { ...base, held: true, problem: { code: e.code, message: e.message } };
  }
}
