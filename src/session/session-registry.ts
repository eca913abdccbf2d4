import type { SessionGrant } from '../policy/session-grant.js';
import type { EndReason } from './end-reason.js';

/** A live session as the protocol-independent core sees it. */
export interface LiveSession {
  readonly id: string;
  readonly grant: SessionGrant;
  readonly clientUser: string;
  readonly clientAddress: string;
  readonly startedAt: Date;
  /** Ends the session from the gateway's side; the client is told why in its protocol's terms. */
  end(reason: EndReason, message: string): void;
}

/** Told of each session as it opens and closes (the session watch keeps its timers by these). */
export interface SessionListener {
  added(session: LiveSession): void;
  removed(session: LiveSession): void;
}

/**
 * Every open session, so the gateway can end them (shutdown today; revocation builds on the same
 * call) and tests can prove none leaked.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();
  private emptyWaiters: (() => void)[] = [];
  private readonly listeners: SessionListener[] = [];

  listen(listener: SessionListener): void {
    this.listeners.push(listener);
  }

  add(session: LiveSession): void {
    this.sessions.set(session.id, session);
    for (const l of this.listeners) l.added(session);
  }

  remove(id: string): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    for (const l of this.listeners) l.removed(session);
    if (this.sessions.size === 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  list(): LiveSession[] {
    return [...this.sessions.values()];
  }

  endAll(reason: EndReason, message: string): void {
    this.endWhere(() => true, reason, message);
  }

  endWhere(predicate: (session: LiveSession) => boolean, reason: EndReason, message: string): void {
    for (const s of this.list()) if (predicate(s)) s.end(reason, message);
  }

  /** Resolves once no session is open (at once if none is). */
  whenEmpty(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }
}
