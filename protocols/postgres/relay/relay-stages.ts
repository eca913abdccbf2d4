import type { SessionActivity, TransactionStatus } from '../../../src/session/session-activity.js';
import { Backend, Frontend } from '../wire/codes.js';
import { PASS, SEE, type FrameStage, type HeaderAction } from '../wire/frame-stage.js';

const TRANSACTION_STATUS: Readonly<Record<number, TransactionStatus>> = { 0x49: 'idle', 0x54: 'in-transaction', 0x45: 'failed' };

function only(code: number): Uint8Array {
  const table = new Uint8Array(256);
  table[code] = 1;
  return table;
}
const TERMINATE_ONLY = only(Frontend.Terminate);
const READY_ONLY = only(Backend.ReadyForQuery);

/** Notes that the client said goodbye, so its end reads 'client-terminated' and not a lost connection. */
export class TerminateWatch implements FrameStage {
  readonly interest = TERMINATE_ONLY;
  /** The client sent Terminate. */
  seen = false;

  header(): HeaderAction {
    this.seen = true;
    return PASS;
  }
}

/** Keeps the session's transaction status from each ReadyForQuery (for limits, `/sessions` and idle rules). */
export function readyTracker(activity: SessionActivity): FrameStage {
  return {
    interest: READY_ONLY,
    header: () => SEE,
    // A ReadyForQuery has a one-byte body: its transaction status.
    see: (_code, bytes, start) => activity.ready(TRANSACTION_STATUS[bytes[start + 5] ?? 0] ?? 'idle'),
  };
}
