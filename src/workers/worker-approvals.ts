import type { ApprovalFleet, ApprovalSiblings } from '../approvals/approval-fleet.js';
import type { ApprovalPin, ApprovalRegistry, ApprovalRequest } from '../approvals/approval-registry.js';
import { ApprovalError } from '../approvals/approval-error.js';
import { isApprovalMessage, type ApprovalMessage } from './approval-messages.js';
import { ANSWER_TIMEOUT_MS } from './worker-siblings.js';

/** The primary asks every sibling, then may ask one to give its approval up: two rounds. */
const CLAIM_TIMEOUT_MS = 2 * ANSWER_TIMEOUT_MS + 500;

/**
 * A worker's side of approvals shared between the workers of one gateway: asks its siblings
 * (through the primary) where a statement it holds nothing for stands, answers their questions
 * from its registry, and tells them when one of its requests is answered or expires.
 */
export class WorkerApprovals implements ApprovalSiblings {
  private nextId = 1;
  private readonly waiting = new Map<number, (request: ApprovalRequest | null) => void>();

  constructor(private readonly channel: NodeJS.Process) {}

  join(registry: ApprovalRegistry): ApprovalFleet {
    registry.onSettled((requestId, state) => this.send({ idgate: 'approval-settled', requestId, state }));
    this.channel.on('message', (m: unknown) => {
      if (isApprovalMessage(m)) this.onMessage(registry, m);
    });
    return { claim: (pin, sessionId) => this.claim(pin, sessionId) };
  }

  private claim(pin: ApprovalPin, sessionId: string): Promise<ApprovalRequest | undefined> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ApprovalError('approval-lookup-failed', 'the other workers did not say where the statement stands in time'));
      }, CLAIM_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(id, (request) => {
        clearTimeout(timer);
        resolve(request ?? undefined);
      });
      this.send({ idgate: 'approval-claim', id, pin, sessionId });
    });
  }

  private onMessage(registry: ApprovalRegistry, m: ApprovalMessage): void {
    switch (m.idgate) {
      case 'approval-peek':
        this.send({ idgate: 'approval-peeked', id: m.id, origin: m.origin, request: registry.peek(m.pin) ?? null });
        return;
      case 'approval-take':
        this.send({
          idgate: 'approval-taken',
          id: m.id,
          origin: m.origin,
          request: registry.takeForSibling(m.requestId, m.sessionId) ?? null,
        });
        return;
      case 'approval-found': {
        const waiter = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        waiter?.(m.request);
        return;
      }
      case 'approval-settled':
        registry.settledElsewhere(m.requestId, m.state);
        return;
      default:
        return; // what workers send the primary
    }
  }

  private send(m: ApprovalMessage): void {
    this.channel.send?.(m);
  }
}
