import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../logging/logger.js';
import { startModuleWorker } from '../start-writer-worker.js';
import { describeTarget, type CentralTarget } from './central-target.js';
import type { ShipperReport, ShipperRequest } from './shipper-messages.js';

/** `recordings.central`: where to ship, and how much may wait locally before recording fails closed. */
export interface CentralSettings {
  readonly target: CentralTarget;
  /** Outbox rows (sessions, segments, progress, seals, login attempts) that may wait unshipped. */
  readonly backlogLimit: number;
}

/**
 * The main thread's side of shipping to the central store: starts the shipper thread, says in the
 * log when the store becomes unreachable and reachable again (with the backlog), and tells the
 * audit log when the backlog passes its limit, so recording fails closed as for a full disk.
 */
export class CentralShipper {
  private unavailable: string | undefined;
  private overLimit = false;
  private stopped: (() => void) | undefined;
  backlog = 0;

  private constructor(
    private readonly worker: Worker,
    private readonly settings: CentralSettings,
    private readonly logger: Logger,
    private readonly onLimit: (over: boolean, message: string) => void,
  ) {
    worker.on('message', (r: ShipperReport) => this.onReport(r));
    worker.on('error', (e) => this.onReport({ type: 'unavailable', message: e.message, backlog: this.backlog }));
  }

  static start(path: string, settings: CentralSettings, logger: Logger, onLimit: (over: boolean, message: string) => void): CentralShipper {
    const worker = startModuleWorker(new URL('./shipper-worker', import.meta.url), { path, target: settings.target });
    logger.info({ central: describeTarget(settings.target) }, 'shipping the audit log to the central store');
    return new CentralShipper(worker, settings, logger, onLimit);
  }

  /** Ships what it can in one last pass (at most `timeoutMs`), then stops the thread. */
  async stop(timeoutMs = 3000): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.stopped = resolve;
    });
    const request: ShipperRequest = { type: 'stop' };
    this.worker.postMessage(request);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    if (this.backlog > 0) {
      this.logger.warn(
        { backlog: this.backlog },
        'stopping with audit rows not yet shipped: they stay in the local database and are shipped at the next start',
      );
    }
    await this.worker.terminate();
  }

  private onReport(r: ShipperReport): void {
    if (r.type === 'stopped') {
      this.stopped?.();
      return;
    }
    if (r.type === 'conflict') {
      // Someone wrote this node's history in the central store before it did: verify --db will name the rows.
      for (const conflict of r.conflicts) {
        this.logger.error({ reason: 'central-conflict', conflict }, `${conflict}: not overwritten; the local log keeps this node's row`);
      }
      return;
    }
    this.backlog = r.backlog;
    if (r.type === 'unavailable') {
      if (this.unavailable !== r.message) {
        this.logger.warn(
          { reason: 'central-unavailable', err: r.message, backlog: r.backlog },
          'the central audit store cannot be reached: recording continues locally',
        );
      }
      this.unavailable = r.message;
    } else if (this.unavailable !== undefined) {
      this.unavailable = undefined;
      this.logger.info({ backlog: r.backlog }, 'the central audit store is reachable again: shipping the backlog');
    }
    this.checkLimit();
  }

  private checkLimit(): void {
    const over = this.backlog > this.settings.backlogLimit;
    if (over === this.overLimit) return;
    this.overLimit = over;
    this.onLimit(
      over,
      over
        ? `${this.backlog} audit rows wait to be shipped to the central store, more than recordings.central.backlog-limit (${this.settings.backlogLimit})`
        : '',
    );
  }
}
