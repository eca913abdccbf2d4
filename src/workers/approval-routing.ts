import type { Worker } from 'node:cluster';
import type { ApprovalRequest } from '../approvals/approval-registry.js';
import type { ApprovalMessage } from './approval-messages.js';
import { ANSWER_TIMEOUT_MS } from './worker-siblings.js';

type Claim = Extract<ApprovalMessage, { idgate: 'approval-claim' }>;

/** One worker's question, while the others answer it. */
interface OpenClaim {
  readonly origin: Worker;
  readonly id: number;
  readonly sessionId: string;
  readonly waitingFor: Set<number>;
  /** What the others hold for the statement, as they answered. */
  readonly found: { readonly worker: Worker; readonly request: ApprovalRequest }[];
  timer: NodeJS.Timeout;
}

/**
 * The primary's part in approvals shared between its workers. A claim is asked of every other
 * worker (nothing changes there); if some hold an approval of the statement, one of them — one
 * only, so an approval runs its statement once — is asked to give it up for the asking session;
 * else the asking worker hears of a pending request (the same id for the same statement in every
 * worker), or a refused one, or that there is none. A worker that does not answer in time counts
 * as holding nothing: at worst an approval goes unused, never used twice.
 */
export class ApprovalRouting {
  private readonly open = new Map<string, OpenClaim>();

  constructor(private readonly workers: () => readonly Worker[]) {}

  route(from: Worker, m: ApprovalMessage): void {
    if (m.idgate === 'approval-claim') this.claim(from, m);
    else if (m.idgate === 'approval-peeked') this.peeked(from, m.origin, m.id, m.request);
    else if (m.idgate === 'approval-taken') this.taken(from, m.origin, m.id, m.request);
    else if (m.idgate === 'approval-settled') for (const w of this.others(from)) w.send(m);
  }

  private claim(from: Worker, m: Claim): void {
    const others = this.others(from);
    if (others.length === 0) {
      this.answer(from, m.id, null);
      return;
    }
    const key = `${from.id}:${m.id}`;
    const timer = setTimeout(() => this.decide(key), ANSWER_TIMEOUT_MS).unref();
    this.open.set(key, { origin: from, id: m.id, sessionId: m.sessionId, waitingFor: new Set(others.map((w) => w.id)), found: [], timer });
    for (const w of others) w.send({ idgate: 'approval-peek', id: m.id, origin: from.id, pin: m.pin } satisfies ApprovalMessage);
  }

  private peeked(from: Worker, origin: number, id: number, request: ApprovalRequest | null): void {
    const claim = this.open.get(`${origin}:${id}`);
    if (claim === undefined || !claim.waitingFor.delete(from.id)) return;
    if (request !== null) claim.found.push({ worker: from, request });
    if (claim.waitingFor.size === 0) this.decide(`${origin}:${id}`);
  }

  /** Everyone answered (or the time ran out): ask the next holder of an approval to give it up, or answer with what was found. */
  private decide(key: string): void {
    const claim = this.open.get(key);
    if (claim === undefined) return;
    clearTimeout(claim.timer);
    claim.waitingFor.clear();
    const next = claim.found.findIndex((f) => f.request.state === 'approved');
    if (next < 0) {
      this.open.delete(key);
      const request = claim.found.find((f) => f.request.state === 'pending') ?? claim.found.find((f) => f.request.state === 'refused');
      this.answer(claim.origin, claim.id, request?.request ?? null);
      return;
    }
    const [holder] = claim.found.splice(next, 1);
    if (holder === undefined || holder.worker.isDead()) {
      this.decide(key);
      return;
    }
    claim.waitingFor.add(holder.worker.id);
    claim.timer = setTimeout(() => this.decide(key), ANSWER_TIMEOUT_MS).unref();
    const take: ApprovalMessage = {
      idgate: 'approval-take',
      id: claim.id,
      origin: claim.origin.id,
      requestId: holder.request.id,
      sessionId: claim.sessionId,
    };
    holder.worker.send(take);
  }

  /** The holder gave its approval up (or it was no longer approved there: the next holder is asked). */
  private taken(from: Worker, origin: number, id: number, request: ApprovalRequest | null): void {
    const key = `${origin}:${id}`;
    const claim = this.open.get(key);
    // Only the holder asked last answers: a late answer of one that timed out is not taken for another's.
    if (claim === undefined || !claim.waitingFor.has(from.id)) return;
    if (request === null) {
      this.decide(key);
      return;
    }
    clearTimeout(claim.timer);
    this.open.delete(key);
    this.answer(claim.origin, claim.id, request);
  }

  private answer(to: Worker, id: number, request: ApprovalRequest | null): void {
    if (!to.isDead()) to.send({ idgate: 'approval-found', id, request } satisfies ApprovalMessage);
  }

  private others(from: Worker): Worker[] {
    return this.workers().filter((w) => w !== from && !w.isDead());
  }
}
