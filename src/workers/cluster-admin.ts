import type { ApprovalAnswer } from '../admin/admin-backend.js';
import type { ApprovalView } from '../admin/approval-view.js';
import { ApprovalError } from '../approvals/approval-error.js';
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { AdminBackend, ReadinessCheck } from '../admin/admin-backend.js';
import type { SessionView } from '../admin/session-view.js';
import type { Requester } from '../session/session-registry.js';
import { isAdminAnswer, type AdminAnswer, type AdminAsk, type AdminRequest } from './admin-messages.js';

/** How long the primary waits for each worker's answer (they answer from memory; readiness probes upstreams). */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * The admin endpoint's answers for all workers of `listen.workers`, served by their primary:
 * every worker is asked, its answers are merged — metrics aggregated by prom-client (each
 * worker's samples keep their own `node` label), sessions listed together, a terminate sent to
 * all — and a worker that does not answer makes the gateway not ready.
 */
export class ClusterAdmin implements AdminBackend {
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: AdminAnswer) => void>();

  constructor(private readonly workers: () => readonly Worker[]) {}

  /** Hands the answers that arrive from a worker to the ask waiting for them. */
  onMessage(m: unknown): void {
    if (!isAdminAnswer(m)) return;
    const waiter = this.waiting.get(m.id);
    this.waiting.delete(m.id);
    waiter?.(m);
  }

  async metrics(): Promise<{ contentType: string; text: string }> {
    const answers = await this.askAll({ op: 'metrics' });
    // Each answer is one worker's getMetricsAsJSON(), as aggregate() takes them.
    const perWorker = answers.flatMap((a) => (a?.op === 'metrics' && Array.isArray(a.metrics) ? [a.metrics as object[]] : []));
    const registry = AggregatorRegistry.aggregate(perWorker);
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  async readiness(): Promise<ReadinessCheck[]> {
    const workers = this.workers();
    const answers = await this.askAll({ op: 'readiness' });
    const checks: ReadinessCheck[] = [];
    answers.forEach((a, i) => {
      if (a?.op === 'readiness') checks.push(...a.checks.map((c) => ({ ...c, name: `${a.node} ${c.name}` })));
      else checks.push({ name: `worker ${workers[i]?.id ?? i}`, ok: false, detail: 'the worker did not answer' });
    });
    if (workers.length === 0) checks.push({ name: 'workers', ok: false, detail: 'no worker is running' });
    return checks;
  }

  async sessions(): Promise<SessionView[]> {
    const answers = await this.askAll({ op: 'sessions' });
    return answers.flatMap((a) => (a?.op === 'sessions' ? [...a.sessions] : []));
  }

  async terminate(sessionId: string, requester: Requester): Promise<boolean> {
    const answers = await this.askAll({ op: 'terminate', sessionId, requester });
    return answers.some((a) => a?.op === 'terminate' && a.terminated);
  }

  async approvals(): Promise<ApprovalView[]> {
    const answers = await this.askAll({ op: 'approvals' });
    return answers.flatMap((a) => (a?.op === 'approvals' ? [...a.approvals] : []));
  }

  /** Each request lives in the worker whose session asked: the one that holds it answers. */
  async decide(approvalId: string, answer: ApprovalAnswer): Promise<ApprovalView | undefined> {
    const answers = await this.askAll({ op: 'decide', approvalId, answer });
    const held = answers.find((a) => a?.op === 'decide' && a.held);
    if (held?.op !== 'decide') return undefined;
    if (held.problem !== undefined) throw new ApprovalError(held.problem.code, held.problem.message);
    return held.view;
  }

  /** Asks every live worker; an answer is undefined for a worker that did not answer in time. */
  private askAll(ask: AdminRequest): Promise<(AdminAnswer | undefined)[]> {
    return Promise.all(this.workers().map((w) => this.askOne(w, ask)));
  }

  private askOne(worker: Worker, ask: AdminRequest): Promise<AdminAnswer | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      const message: AdminAsk = { ...ask, id, idgate: 'admin-ask' };
      worker.send(message);
    });
  }
}
