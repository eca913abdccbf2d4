import type { Logger } from '../logging/logger.js';
import { writeAnchors } from './anchor-target.js';
import type { AuditLog } from './audit-log.js';
import { errorMessage } from '../idgate-error.js';

/**
 * `recordings.anchor`: the gateway anchors its own log every `everyMs` — where its chains stand in
 * what it committed — so the newest rows can be cut from its files no further back than the last
 * anchor without `verify --anchors` saying so. A host that is taken over can still add anchors,
 * never remove those already written: the target must not let the gateway rewrite it.
 */
export class PeriodicAnchor {
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;

  constructor(
    private readonly audit: AuditLog,
    private readonly to: string,
    private readonly everyMs: number,
    private readonly nodeId: string,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.anchor(), this.everyMs);
    this.timer.unref();
  }

  /** One more anchor now (a clean stop), then no more. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.anchor();
  }

  async anchor(): Promise<void> {
    const now = await this.audit.committedHeads();
    if (now === undefined) return;
    const { logId, heads } = now;
    const key = `${logId}:${heads.sealSeq}:${heads.loginSeq}:${heads.sealHash}`;
    if (key === this.last) return; // nothing new since the last anchor
    try {
      await writeAnchors(this.to, [{ atUs: Date.now() * 1000, logId, node: this.nodeId, ...heads }]);
      this.last = key;
    } catch (e) {
      this.logger.warn(
        { reason: 'anchor-failed', err: errorMessage(e) },
        'the audit log could not be anchored: trying again at the next interval',
      );
    }
  }
}
