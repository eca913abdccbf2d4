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
 * The BackendKeyData the gateway hands each client is its own random pair, mapped to the
 * upstream's real key; the upstream's key never leaves the gateway. A CancelRequest must match
 * both halves, so a client can cancel only its own session's queries.
 */
export class CancelKeys {
  private readonly routes = new Map<number, { readonly secretKey: number; readonly route: CancelRoute }>();

  issue(route: CancelRoute): BackendKey {
    let processId: number;
    do processId = randomInt(1, 2 ** 31 - 1);
    while (this.routes.has(processId));
    const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
    this.routes.set(processId, { secretKey, route });
    return { processId, secretKey };
  }

  release(key: BackendKey): void {
    this.routes.delete(key.processId);
  }

  /** The route for a CancelRequest, or undefined when the pair is not one we issued. */
  lookup(processId: number, secretKey: number): CancelRoute | undefined {
    const entry = this.routes.get(processId);
    return entry !== undefined && entry.secretKey === secretKey ? entry.route : undefined;
  }

  get size(): number {
    return this.routes.size;
  }
}
