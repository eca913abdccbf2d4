/**
 * What the worker processes of one gateway (listen.workers) and their primary say to each other
 * over Node's cluster IPC. Only cancel keys cross: a CancelRequest that reaches a worker not
 * holding the session is offered to the others, through the primary.
 */
export type SiblingMessage =
  /** worker → primary: ask every other worker to cancel this session if it holds it. */
  | { readonly idgate: 'cancel'; readonly id: number; readonly processId: number; readonly secretKey: number }
  /** primary → worker: does this worker hold the session? (`origin` is the asking worker) */
  | { readonly idgate: 'cancel-ask'; readonly id: number; readonly origin: number; readonly processId: number; readonly secretKey: number }
  /** worker → primary: the answer to `cancel-ask`. */
  | { readonly idgate: 'cancel-answer'; readonly id: number; readonly origin: number; readonly held: boolean }
  /** primary → worker: whether any sibling held it (every one answered, or the time ran out). */
  | { readonly idgate: 'cancel-result'; readonly id: number; readonly held: boolean };

const SIBLING_KINDS = new Set(['cancel', 'cancel-ask', 'cancel-answer', 'cancel-result']);

export function isSiblingMessage(m: unknown): m is SiblingMessage {
  return typeof m === 'object' && m !== null && SIBLING_KINDS.has(String((m as { idgate?: unknown }).idgate));
}
