import type { EndReason } from '../../../src/session/end-reason.js';
import type { MemoryBudget } from '../../../src/session/memory-budget.js';
import type { SessionActivity } from '../../../src/session/session-activity.js';
import type { RelayObserver } from '../recording/relay-observer.js';
import type { FrameStage } from '../wire/frame-stage.js';

export interface RelayOptions {
  /** Sees the frames of both directions as they go on (the audit recorder), and may ask the relay to slow the client down. */
  readonly observer?: RelayObserver | undefined;
  /** Stages the client's frames pass first, in order (the scope's gate). */
  readonly clientStages?: readonly FrameStage[];
  /** Stages the server's frames pass first, in order (the scope's gate, then `max-rows`). */
  readonly serverStages?: readonly FrameStage[];
  /** The largest message the client may send: a longer one ends the session before any of it is held or forwarded. */
  readonly maxClientMessage?: number;
  /** The session's state and counters (bytes, round trips), kept up to date for metrics and limits. */
  readonly activity?: SessionActivity;
  /** The gateway-wide budget for frames held while assembled: past it, the client is read no further. */
  readonly budget?: MemoryBudget | undefined;
  /** Builds the FATAL a client gets when the gateway itself fails while reading its session (no internal detail in it). */
  readonly internalError?: () => Buffer;
  /**
   * Called once when the gateway ends the session itself (an operator, revocation, a limit, a
   * malformed or oversized frame, its own failure), before the connections close: a statement the
   * server is running would otherwise run on, and a write commit, after the session ended.
   */
  readonly onGatewayEnd?: () => void;
}

export interface RelayEnd {
  readonly reason: EndReason;
  readonly error?: Error;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
}
