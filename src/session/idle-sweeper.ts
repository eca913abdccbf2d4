import type { LiveSession, SessionRegistry } from './session-registry.js';

const SWEEP_MS = 1000;

interface Quiet {
  bytes: number;
  since: number;
}

/**
 * Ends sessions that sent nothing and waited for nothing longer than their `idle-timeout`. One
 * timer for the whole gateway looks at each session's byte counters once a second, so the relay
 * does no timekeeping per frame: a session is quiet while nothing moved either way and no
 * statement is running (a long query that returns nothing for minutes is not idle; a client that
 * stops in the middle of a message is, and would otherwise hold its part of the memory budget).
 */
export class IdleSweeper {
  private readonly quiet = new WeakMap<LiveSession, Quiet>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sessions: SessionRegistry) {}

  start(): void {
    this.timer ??= setInterval(() => this.sweep(performance.now()), SWEEP_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at every session (public so a test can drive it with its own clock). */
  sweep(now: number): void {
    for (const session of this.sessions.list()) {
      const limit = session.limits.idleTimeoutMs;
      if (limit === undefined) continue;
      const moved = session.activity.bytesMoved;
      const seen = this.quiet.get(session);
      const running = session.activity.state === 'active' && !session.activity.clientMidMessage;
      if (seen === undefined || seen.bytes !== moved || running) {
        this.quiet.set(session, { bytes: moved, since: now });
      } else if (now - seen.since >= limit) {
        session.end(
          'idle-timeout',
          `terminating connection due to idle-session timeout (the gateway's idle-timeout of ${Math.round(limit / 1000)} s)`,
        );
      }
    }
  }
}
