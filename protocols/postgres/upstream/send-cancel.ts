import { encodeCancelRequest } from '../wire/frontend-messages.js';
import { connectUpstream, newUpstreamQueue } from './connect-upstream.js';
import type { BackendKey } from './login-upstream.js';
import type { UpstreamTarget } from './upstream-target.js';

/** Sends the upstream's own CancelRequest on a fresh connection, as the protocol requires. */
export async function sendCancel(target: UpstreamTarget, key: BackendKey): Promise<void> {
  const queue = newUpstreamQueue();
  const { socket } = await connectUpstream(target, queue);
  queue.detach();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), target.connectTimeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => undefined);
    socket.end(encodeCancelRequest(key.processId, key.secretKey));
  });
}
