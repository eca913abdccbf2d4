import { randomInt } from 'node:crypto';
import type { BackendKey } from '../upstream/login-upstream.js';
import type { UpstreamTarget } from '../upstream/upstream-target.js';

export interface CancelRoute {
  readonly target: UpstreamTarget;
  readonly upstreamKey: BackendKey;
  readonly sessionId: string;
  /** Tells the session's recorder (the audit log keeps each CancelRequest, never the keys). */
  readonly onCancel?: () => void;
}

/**
 * The BackendKeyData the gateway hands each client carries the upstream's real backend process id
 * — so `pg_backend_pid()`, `pg_stat_activity` and `pg_terminate_backend(pid)` mean what the client
 * expects — with a random secret of the gateway's own: the upstream's secret never leaves the
 * gateway. A CancelRequest must match both halves, so a client can cancel only its own session's
 * queries. Two upstream servers may use the same process id; the secrets keep their keys apart.
 */
export class CancelKeys {
  private readonly routes = new Map<number, Map<number, CancelRoute>>();
  private count = 0;

  issue(route: CancelRoute): BackendKey {
    const processId = route.upstreamKey.processId;
    let bySecret = this.routes.get(processId);
    if (bySecret === undefined) this.routes.set(processId, (bySecret = new Map<number, CancelRoute>()));
    let secretKey: number;
    do secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
    while (bySecret.has(secretKey) || secretKey === route.upstreamKey.secretKey);
    bySecret.set(secretKey, route);
    this.count += 1;
    return { processId, secretKey };
  }

  release(key: BackendKey): void {
    const bySecret = this.routes.get(key.processId);
    if (bySecret?.delete(key.secretKey) !== true) return;
    this.count -= 1;
    if (bySecret.size === 0) this.routes.delete(key.processId);
  }

  /** The route for a CancelRequest, or undefined when the pair is not one we issued. */
  lookup(processId: number, secretKey: number): CancelRoute | undefined {
    return this.routes.get(processId)?.get(secretKey);
  }

  get size(): number {
    return this.count;
  }
}
