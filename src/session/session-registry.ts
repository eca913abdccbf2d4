import type { SessionLimits } from '../config/gateway-config.js';
import type { SessionGrant } from '../policy/session-grant.js';
import type { EndReason } from './end-reason.js';
import type { SessionActivity } from './session-activity.js';

/** Who asked for a session to end, as the admin endpoint authenticated them: recorded in the audit log. */
export interface Requester {
  /** The name the caller gave (the CLI sends the operator's user@host); not proof of identity. */
  readonly by: string;
  /** How the caller was authenticated: bearer-token, client-certificate (with its subject), loopback. */
  readonly via: string;
  /** The caller's address. */
  readonly from: string;
}

/** A live session as the protocol-independent core sees it. */
export interface LiveSession {
  readonly id: string;
  readonly grant: SessionGrant;
  readonly clientUser: string;
  readonly clientAddress: string;
  readonly startedAt: Date;
  /** What it is doing now and what it has moved (updated by the protocol's relay). */
  readonly activity: SessionActivity;
  /** The limits it runs under (the idle check reads its idle-timeout). */
  readonly limits: SessionLimits;
  /** Ends the session from the gateway's side; the client is told why in its protocol's terms. */
  end(reason: EndReason, message: string, requester?: Requester): void;
}

/** Told of each session as it opens and closes (the session watch keeps its timers by these). */
export interface SessionListener {
  added(session: LiveSession): void;
  removed(session: LiveSession, reason: EndReason): void;
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

  remove(id: string, reason: EndReason): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    for (const l of this.listeners) l.removed(session, reason);
    if (this.sessions.size === 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id);
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
