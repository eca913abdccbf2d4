import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../logging/logger.js';
import { isSiblingMessage, type SiblingMessage } from './sibling-messages.js';
import { ANSWER_TIMEOUT_MS } from './worker-siblings.js';
import { ApprovalRouting } from './approval-routing.js';
import { isApprovalMessage } from './approval-messages.js';

/** The environment variable that tells a worker process its index (1-based): it names its node id and local database. */
export const WORKER_INDEX_ENV = 'IDGATE_WORKER_INDEX';
/** What the primary sends a worker to make it drain and stop (not a signal: see runUntilSignal). */
export const STOP_MESSAGE = 'idgate-stop';
/** A worker that dies is started again after this long (not at once: a crash at start would spin). */
const RESTART_DELAY_MS = 1000;

interface PendingCancel {
  readonly origin: Worker;
  readonly waitingFor: Set<number>;
  readonly timer: NodeJS.Timeout;
}

/**
 * The primary of `listen.workers: N`: N gateway processes (node:cluster) sharing the listen port,
 * each a fleet node with its own local audit database. The primary serves no client: it starts the
 * workers (again, when one dies), passes SIGHUP on to all of them, drains them all on SIGTERM,
 * and routes cancel requests and approvals between them.
 */
export class WorkerPool {
  private readonly workers = new Map<number, Worker>();
  private readonly pending = new Map<string, PendingCancel>();
  private stopping = false;
  private readonly messageListeners: ((m: unknown) => void)[] = [];
  private readonly approvals = new ApprovalRouting(() => [...this.workers.values()]);

  private constructor(private readonly logger: Logger) {}

  static start(count: number, logger: Logger): WorkerPool {
    const pool = new WorkerPool(logger);
    for (let i = 1; i <= count; i++) pool.fork(i);
    logger.info({ workers: count }, 'started gateway workers');
    return pool;
  }

  /** The workers running now. */
  get live(): Worker[] {
    return [...this.workers.values()].filter((w) => !w.isDead());
  }

  /** Told every message a worker sends the primary (the admin endpoint's answers). */
  onWorkerMessage(listener: (m: unknown) => void): void {
    this.messageListeners.push(listener);
  }

  /** SIGHUP: every worker reloads the configuration file itself. */
  reload(): void {
    for (const w of this.workers.values()) w.process.kill('SIGHUP');
  }

  /** SIGTERM: every worker drains and stops (told over IPC); resolves once all have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    const exits = [...this.workers.values()].map(
      (w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))),
    );
    for (const w of this.workers.values()) if (!w.isDead()) w.send(STOP_MESSAGE);
    await Promise.all(exits);
    this.logger.info('gateway workers stopped');
  }

  private fork(index: number): void {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    this.workers.set(index, worker);
    worker.on('message', (m: unknown) => {
      if (isSiblingMessage(m)) this.route(worker, m);
      else if (isApprovalMessage(m)) this.approvals.route(worker, m);
      for (const listener of this.messageListeners) listener(m);
    });
    worker.once('exit', (code, signal) => {
      this.workers.delete(index);
      if (this.stopping) return;
      this.logger.error({ worker: index, code, signal }, 'a gateway worker died: starting it again');
      setTimeout(() => {
        if (!this.stopping) this.fork(index);
      }, RESTART_DELAY_MS);
    });
  }

  /** A worker asks the others to cancel; the first that holds the session answers for all. */
  private route(from: Worker, m: SiblingMessage): void {
    if (m.idgate === 'cancel') {
      const others = [...this.workers.values()].filter((w) => w !== from && !w.isDead());
      if (others.length === 0) {
        from.send({ idgate: 'cancel-result', id: m.id, held: false } satisfies SiblingMessage);
        return;
      }
      const key = `${from.id}:${m.id}`;
      const timer = setTimeout(() => this.answer(key, m.id, false), ANSWER_TIMEOUT_MS);
      this.pending.set(key, { origin: from, waitingFor: new Set(others.map((w) => w.id)), timer });
      for (const w of others) {
        w.send({
          idgate: 'cancel-ask',
          id: m.id,
          origin: from.id,
          processId: m.processId,
          secretKey: m.secretKey,
        } satisfies SiblingMessage);
      }
    } else if (m.idgate === 'cancel-answer') {
      const key = `${m.origin}:${m.id}`;
      const pending = this.pending.get(key);
      if (pending === undefined) return;
      pending.waitingFor.delete(from.id);
      if (m.held || pending.waitingFor.size === 0) this.answer(key, m.id, m.held);
    }
  }

  private answer(key: string, id: number, held: boolean): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    this.pending.delete(key);
    clearTimeout(pending.timer);
    if (!pending.origin.isDead()) pending.origin.send({ idgate: 'cancel-result', id, held } satisfies SiblingMessage);
  }
}
