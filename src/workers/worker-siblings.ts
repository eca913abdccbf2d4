import type { SiblingCancel } from '../protocol.js';
import { isSiblingMessage, type SiblingMessage } from './sibling-messages.js';

/** How long a worker waits for its siblings' answers (they answer from memory, so this is generous). */
const ANSWER_TIMEOUT_MS = 2000;

/**
 * A worker's side of cancel routing between the workers of one gateway: offers a cancel it cannot
 * place to its siblings (through the primary), and answers theirs with `holds`.
 */
export class WorkerSiblings implements SiblingCancel {
  private nextId = 1;
  private readonly waiting = new Map<number, (held: boolean) => void>();
  private holds: ((processId: number, secretKey: number) => Promise<boolean>) | undefined;

  constructor(private readonly channel: NodeJS.Process) {
    channel.on('message', (m: unknown) => {
      if (isSiblingMessage(m)) void this.onMessage(m);
    });
  }

  /** Registers how this worker cancels a session it holds (false when it holds none with that key). */
  answerWith(holds: (processId: number, secretKey: number) => Promise<boolean>): void {
    this.holds = holds;
  }

  cancel(processId: number, secretKey: number): Promise<boolean> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, false), ANSWER_TIMEOUT_MS + 500);
      timer.unref();
      this.waiting.set(id, (held) => {
        clearTimeout(timer);
        resolve(held);
      });
      this.send({ idgate: 'cancel', id, processId, secretKey });
    });
  }

  private async onMessage(m: SiblingMessage): Promise<void> {
    if (m.idgate === 'cancel-result') this.settle(m.id, m.held);
    else if (m.idgate === 'cancel-ask') {
      const held = (await this.holds?.(m.processId, m.secretKey).catch(() => false)) ?? false;
      this.send({ idgate: 'cancel-answer', id: m.id, origin: m.origin, held });
    }
  }

  private settle(id: number, held: boolean): void {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    waiter?.(held);
  }

  private send(m: SiblingMessage): void {
    this.channel.send?.(m);
  }
}

export { ANSWER_TIMEOUT_MS };
