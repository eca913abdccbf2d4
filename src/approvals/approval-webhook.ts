import { RetryDelay } from '../audit/central/retry-delay.js';
import { errorMessage } from '../idgate-error.js';
import { EntraHttp } from '../identity/entra-http.js';
import type { Logger } from '../logging/logger.js';

export interface WebhookTarget {
  /** An https:// URL (the statement's text goes in the body: never in clear). */
  readonly url: string;
  /** Sent as `Authorization: Bearer …` when given. */
  readonly token?: string;
  /** Extra CA certificates (PEM) for the receiver. */
  readonly ca?: Buffer;
  readonly timeoutMs: number;
}

/** Tries per notification: 1 s, 2 s, 4 s, 8 s apart (jittered), then it is logged as lost. */
const ATTEMPTS = 5;
/** Notifications on their way at once; past it new ones are dropped (and logged): a dead receiver cannot fill memory. */
const MAX_IN_FLIGHT = 100;

/**
 * Tells a team's chat or ticket system that a statement waits for an approver: one JSON POST per
 * new request, retried, off the relay's way (nothing waits for it). idgate ships no Slack or Teams
 * client: a small bridge, or the chat's own incoming-webhook adapter, turns the JSON into a message.
 */
export class ApprovalWebhook {
  private readonly http: EntraHttp;
  private inFlight = 0;
  private closed = false;

  constructor(
    private readonly target: WebhookTarget,
    private readonly logger: Logger,
  ) {
    this.http = new EntraHttp({ timeoutMs: target.timeoutMs, ...(target.ca !== undefined ? { ca: target.ca } : {}) });
  }

  notify(payload: Record<string, unknown>): void {
    if (this.closed) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.logger.warn({ approvalId: payload['id'] }, 'approval webhook: too many notifications on their way, this one dropped');
      return;
    }
    this.inFlight += 1;
    void this.deliver(JSON.stringify(payload), String(payload['id'])).finally(() => (this.inFlight -= 1));
  }

  close(): void {
    this.closed = true;
    this.http.close();
  }

  private async deliver(body: string, id: string): Promise<void> {
    const delay = new RetryDelay(1000, 8000);
    const headers = {
      'content-type': 'application/json',
      ...(this.target.token !== undefined ? { authorization: `Bearer ${this.target.token}` } : {}),
    };
    let problem = '';
    for (let attempt = 1; attempt <= ATTEMPTS && !this.closed; attempt++) {
      try {
        const answer = await this.http.post(this.target.url, headers, body);
        if (answer.status >= 200 && answer.status < 300) return;
        problem = `HTTP ${answer.status}`;
      } catch (e) {
        problem = errorMessage(e);
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, delay.take()).unref());
    }
    this.logger.warn({ approvalId: id, err: problem, attempts: ATTEMPTS }, 'approval webhook: not delivered');
  }
}
