import type { Logger } from '../../../src/logging/logger.js';
import type { GatewayServices } from '../../../src/protocol.js';
import { cancelAtPeers } from './cancel-at-peers.js';
import { cancelHeld } from './cancel-held.js';
import type { CancelKeys } from './cancel-keys.js';

export interface CancelRequestFrom {
  readonly processId: number;
  readonly secretKey: number;
  /** The source address, for the guessing limit. */
  readonly source: string;
  /** A client's own request (a peer's PeerCancelRequest is never passed on again). */
  readonly fromClient: boolean;
}

/**
 * Routes a CancelRequest: a session this process holds gets it upstream with the upstream's own
 * key; one held by a sibling worker gets it there; one held nowhere this node can see goes to the
 * fleet's peers (one hop), so a cancel that reaches the wrong node still lands. Every key held
 * nowhere counts against the source's guessing limit, and past the limit requests are dropped unread.
 */
export async function forwardCancel(services: GatewayServices, keys: CancelKeys, request: CancelRequestFrom, log: Logger): Promise<void> {
  const { cancelGuard, metrics } = services;
  const { processId, secretKey, source, fromClient } = request;
  if (!cancelGuard.admit(source)) {
    metrics.cancelRequest('dropped');
    return;
  }
  if (await cancelHeld(keys, processId, secretKey, log)) {
    metrics.cancelRequest('forwarded');
    return;
  }
  // Another worker of this gateway may hold it: they count as this node, so a peer's request goes to them too.
  if ((await services.siblings?.cancel(processId, secretKey)) === true) {
    metrics.cancelRequest('forwarded');
    log.info({ fromPeer: !fromClient }, 'cancel request passed to the sibling worker that holds the session');
    return;
  }
  const { peers, peerTimeoutMs } = services.config;
  // Held nowhere this node can see: a guess unless a peer holds it, and counted as one either way.
  cancelGuard.wrongKey(source);
  if (!fromClient || peers.length === 0) {
    metrics.cancelRequest('unknown-key');
    log.info({ fromPeer: !fromClient }, 'cancel request with an unknown key ignored');
    return;
  }
  metrics.cancelRequest('forwarded');
  const told = await cancelAtPeers(peers, processId, secretKey, peerTimeoutMs);
  log.info({ peers: peers.length, reached: told }, 'cancel request for a session not held here passed to the fleet’s peers');
}
