import type { FrameStage } from '../wire/frame-stage.js';

/** What the relay lets a session observer see and how it lets the observer slow the client down. */
export interface RelayObserver {
  /** The last stage of each direction's frame stream: it sees what goes on, as it goes on. */
  readonly clientStage: FrameStage;
  readonly serverStage: FrameStage;
  /** True while the observer cannot keep up: the relay stops reading the client. */
  readonly congested: boolean;
  whenDrained(callback: () => void): void;
  /** Write-ahead: the relay forwards a client chunk only once `afterDurable` calls back for it. */
  readonly writeAhead: boolean;
  /** Calls back once everything observed so far is durable (callbacks come in the order asked). */
  afterDurable(callback: () => void): void;
}
