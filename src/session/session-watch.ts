import type { MappingRule } from '../config/gateway-config.js';
import { GraphUnavailableError } from '../identity/graph-client.js';
import type { LiveRevocation } from '../identity/live-revocation.js';
import type { Logger } from '../logging/logger.js';
import type { EndReason } from './end-reason.js';
import type { LiveSession, SessionListener, SessionRegistry } from './session-registry.js';

/** setTimeout's longest delay; a token further out is re-armed when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SessionWatchOptions {
  readonly endAtTokenExpiry: boolean;
}

/**
 * Keeps the promise after login: a session ends when its token expires, and every
 * `recheck-seconds` the identities behind open sessions are asked about again — disabled or
 * deleted, out of the group that granted the session, or signed with a key the tenant removed:
 * the session ends with a reason that names why (the protocol tells the client, the audit log
 * keeps the reason).
 */
export class SessionWatch implements SessionListener {
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  /** When Graph last confirmed each session (for fail-closed after an outage). */
  private readonly confirmedAt = new Map<string, number>();
  private recheckTimer: NodeJS.Timeout | undefined;
  private rechecking: Promise<void> | undefined;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly revocation: LiveRevocation | undefined,
    private readonly options: SessionWatchOptions,
    private readonly logger: Logger,
  ) {
    sessions.listen(this);
  }

  start(): void {
    if (this.revocation === undefined) return;
    this.recheckTimer ??= setInterval(() => {
      this.recheck().catch((e: unknown) =>
        this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'session recheck failed'),
      );
    }, this.revocation.config.recheckMs).unref();
  }

  stop(): void {
    clearInterval(this.recheckTimer);
    this.recheckTimer = undefined;
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  added(session: LiveSession): void {
    this.confirmedAt.set(session.id, Date.now());
    if (this.options.endAtTokenExpiry) this.armExpiry(session);
  }

  removed(session: LiveSession): void {
    clearTimeout(this.expiryTimers.get(session.id));
    this.expiryTimers.delete(session.id);
    this.confirmedAt.delete(session.id);
  }

  /** Ends the sessions whose tokens were signed with keys the tenant no longer publishes. */
  keysRemoved(kids: ReadonlySet<string>): void {
    this.end(
      this.sessions.list().filter((s) => kids.has(s.grant.identity.keyId)),
      'signing-key-removed',
      'terminating connection because the key that signed its access token was removed from the tenant',
    );
  }

  /** One pass over the open sessions; overlapping calls share the pass in flight. */
  recheck(): Promise<void> {
    this.rechecking ??= this.recheckAll().finally(() => {
      this.rechecking = undefined;
    });
    return this.rechecking;
  }

  private async recheckAll(): Promise<void> {
    const revocation = this.revocation;
    if (revocation === undefined) return;
    const byApp = groupBy(this.sessions.list(), (s) => s.grant.identity.appId);
    await Promise.all([...byApp].map(([appId, sessions]) => this.recheckIdentity(revocation, appId, sessions)));
  }

  private async recheckIdentity(revocation: LiveRevocation, appId: string, sessions: LiveSession[]): Promise<void> {
    try {
      const state = await revocation.state(appId);
      if (state !== 'enabled') {
        this.end(sessions, 'identity-disabled', `terminating connection because identity ${appId} was ${state} in Entra`);
        return;
      }
      const lost = await this.lostMemberships(revocation, sessions);
      this.end(
        lost,
        'membership-revoked',
        'terminating connection because the identity is no longer in the Entra group that granted this connection',
      );
      const unassigned = await this.lostRoles(revocation, sessions);
      this.end(
        unassigned,
        'role-revoked',
        'terminating connection because the identity no longer holds the Entra app role that granted this connection',
      );
      const now = Date.now();
      for (const s of sessions) if (!lost.includes(s) && !unassigned.includes(s)) this.confirmedAt.set(s.id, now);
    } catch (e) {
      if (!(e instanceof GraphUnavailableError)) throw e;
      this.unconfirmed(revocation, sessions, e);
    }
  }

  /** Group-granted sessions whose identity is no longer in the group of their identity-map entry. */
  private async lostMemberships(revocation: LiveRevocation, sessions: LiveSession[]): Promise<LiveSession[]> {
    const lost: LiveSession[] = [];
    const byPrincipal = groupBy(
      sessions.filter((s) => s.grant.rule.match.kind === 'entra-group'),
      (s) => s.grant.identity.objectId,
    );
    for (const [objectId, granted] of byPrincipal) {
      const groups = await revocation.checkMembership(
        objectId,
        granted.map((s) => groupOf(s.grant.rule)),
      );
      for (const s of granted) if (!groups.has(groupOf(s.grant.rule))) lost.push(s);
    }
    return lost;
  }

  /** Role-granted sessions whose identity no longer holds the role of their identity-map entry (v2 tokens). */
  private async lostRoles(revocation: LiveRevocation, sessions: LiveSession[]): Promise<LiveSession[]> {
    const lost: LiveSession[] = [];
    for (const s of sessions) {
      const match = s.grant.rule.match;
      if (match.kind !== 'entra-app-role') continue;
      const held = await revocation.heldRoles(s.grant.identity.objectId, s.grant.identity.audience);
      if (held !== undefined && !held.has(match.role)) lost.push(s);
    }
    return lost;
  }

  /** Graph did not answer: with fail-closed, a session unconfirmed for two rechecks ends. */
  private unconfirmed(revocation: LiveRevocation, sessions: LiveSession[], e: Error): void {
    this.logger.warn({ sessions: sessions.length, err: e.message }, 'Graph unavailable: open sessions could not be rechecked');
    if (!revocation.failClosed) return;
    const limit = Date.now() - 2 * revocation.config.recheckMs;
    const stale = sessions.filter((s) => (this.confirmedAt.get(s.id) ?? 0) <= limit);
    this.end(
      stale,
      'identity-unverifiable',
      'terminating connection because the gateway could not confirm the identity with Microsoft Graph',
    );
  }

  private armExpiry(session: LiveSession): void {
    const delay = session.grant.identity.expiresAt * 1000 - Date.now();
    const timer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) return this.armExpiry(session);
        this.end([session], 'token-expired', 'terminating connection because its access token expired: reconnect with a new token');
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    timer.unref();
    this.expiryTimers.set(session.id, timer);
  }

  private end(sessions: readonly LiveSession[], reason: EndReason, message: string): void {
    for (const s of sessions) {
      this.logger.info({ sessionId: s.id, identity: s.grant.identity.objectId, appId: s.grant.identity.appId, reason }, 'ending session');
      s.end(reason, message);
    }
  }
}

function groupOf(rule: MappingRule): string {
  return rule.match.kind === 'entra-group' ? rule.match.groupId : '';
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}
