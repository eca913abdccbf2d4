import type { Logger } from '../../../src/logging/logger.js';
import { sendCancel } from '../upstream/send-cancel.js';
import type { CancelKeys } from './cancel-keys.js';

/**
 * Cancels the running statement of a session this process holds under the client's key: the
 * upstream gets a CancelRequest with its own key. False when no session here has that key.
 */
export async function cancelHeld(keys: CancelKeys, processId: number, secretKey: number, log: Logger): Promise<boolean> {
  const route = keys.lookup(processId, secretKey);
  if (route === undefined) return false;
  log.info({ sessionId: route.sessionId }, 'cancel request forwarded');
  route.onCancel?.();
  await sendCancel(route.target, route.upstreamKey).catch((e: unknown) => {
    log.warn({ sessionId: route.sessionId, err: e instanceof Error ? e.message : String(e) }, 'cancel request could not be forwarded');
  });
  return true;
}
