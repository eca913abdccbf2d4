import { createHash, randomBytes } from 'node:crypto';
import type { ApprovalLimits } from '../config/gateway-config.js';
import { ApprovalError } from './approval-error.js';

/** Who asks: the identity, on which connection, through which identity-map entry, in which session. */
export interface ApprovalAsker {
  readonly objectId: string;
  readonly appId: string;
  readonly displayName: string | undefined;
  readonly connection: string;
  readonly entry: string;
  readonly sessionId: string;
  /**
   * The settings the session's login asked for that change what a statement means (JSON by name:
   * DateStyle, TimeZone, a custom setting a row security policy reads, …); undefined when none.
   * Pinned too: an approval admits its statement only in a session that reads it the same way.
   */
  readonly settings?: string;
}

/** A person's answer, and how they proved who they are (as a terminate records it). */
export interface ApprovalDecision {
  readonly approve: boolean;
  readonly by: string;
  /** How the approver proved who they are: `bearer-token`, `client-certificate:CN`, `entra-user:OID`. */
  readonly via: string;
  readonly from: string;
  readonly reason: string;
  /** The approver's Entra object id, when an Entra token proved it (no identity decides on its own request). */
  readonly approverId?: string;
  readonly atMs: number;
}

export type ApprovalState = 'pending' | 'approved' | 'refused' | 'used' | 'expired';

export interface ApprovalRequest {
  readonly id: string;
  readonly asker: ApprovalAsker;
  /** The statement exactly as the agent sent it: an approval admits this text and no other. */
  readonly sql: string;
  /** A prepared statement's bound values (JSON), when it came through the extended protocol: pinned too. */
  readonly params?: string;
  /** SHA-256 of the text (hex, first 16 bytes): what a reviewer compares across requests. */
  readonly fingerprint: string;
  /** What needs the approval, e.g. `writing public.records`. */
  readonly what: string;
  readonly requestedAtMs: number;
  state: ApprovalState;
  /** The answer that decided it: the refusal, or the approval that made enough. */
  decision?: ApprovalDecision;
  /** Every approval given so far, in order (`approvals.approvers-required` of them approve it). */
  readonly approvals: ApprovalDecision[];
  /** The session that took the approval to run the statement. */
  usedBy?: string;
  /** Taken by a session of another worker process, which holds it from then on (listen.workers). */
  takenElsewhere?: boolean;
  /** What a dry run found (`approvals.preview`), once it has run. */
  preview?: ApprovalPreview;
}

/** The rows a dry run says the statement would change, or why it could not say. */
export type ApprovalPreview = { readonly rows: number } | { readonly problem: string };

export const DEFAULT_APPROVAL_LIMITS: ApprovalLimits = {
  requestTtlMs: 3_600_000,
  approvalTtlMs: 900_000,
  pendingPerIdentity: 20,
  waitMs: 0,
  heartbeatMs: 10_000,
  preview: false,
  approversRequired: 1,
  approverGroups: [],
};

/** Told of each new request (the configured webhook). */
export interface ApprovalNotifier {
  requested(request: ApprovalRequest): void;
  close(): void;
}

/** What an approval admits: this identity, on this connection, sending exactly this statement (and values), read with these settings. */
export interface ApprovalPin {
  readonly objectId: string;
  readonly connection: string;
  readonly sql: string;
  readonly params?: string;
  readonly settings?: string;
}

/** What the gate does with a statement that needs approval. */
export type ApprovalOutcome =
  | { readonly kind: 'approved'; readonly request: ApprovalRequest }
  | { readonly kind: 'pending'; readonly request: ApprovalRequest; readonly created: boolean }
  | { readonly kind: 'refused'; readonly request: ApprovalRequest }
  | { readonly kind: 'too-many'; readonly limit: number };

/**
 * The statements waiting for a person, in one gateway process. An approval is pinned: it admits
 * the same identity, on the same connection, sending exactly the same text (and values, with their
 * types), in a session that logged in with the same settings — once, within its expiry. Anything else, `id = 8` for `id = 7` included, is a request of its own. An agent cannot
 * answer its own request: answers come through the admin endpoint, which agents' tokens do not open.
 */
export class ApprovalRegistry {
  private readonly requests = new Map<string, ApprovalRequest>();
  /** Sessions holding a statement open until its request is answered (`approvals.wait`). */
  private readonly waiting = new Map<string, ((state: ApprovalState) => void)[]>();
  private readonly expiredListeners: ((request: ApprovalRequest) => void)[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /** Told of each decision on a request (the asking session records it in its own chain). */
  private readonly deciders = new Map<string, (request: ApprovalRequest, decision: ApprovalDecision) => void>();
  private readonly settledListeners: ((id: string, state: ApprovalState) => void)[] = [];

  constructor(
    private readonly limits: ApprovalLimits = DEFAULT_APPROVAL_LIMITS,
    private readonly now: () => number = Date.now,
    private readonly notifier?: ApprovalNotifier,
  ) {}

  /** The gateway stops: nothing more is sent to the notifier, and the sweep stops. */
  close(): void {
    clearInterval(this.sweeper);
    this.notifier?.close();
  }

  /** Expires what is past its time every `everyMs`, so expiries are counted when they happen, not when next asked. */
  startSweeping(everyMs: number): void {
    this.sweeper ??= setInterval(() => this.expire(), everyMs).unref();
  }

  /** The statement `sql` needs approval (`what`): takes its approval if one is waiting, else asks (or answers where the asking stands). */
  check(asker: ApprovalAsker, sql: string, what: string, params?: string): ApprovalOutcome {
    return this.checkHere(asker, sql, params) ?? this.request(asker, sql, what, params);
  }

  /** As `check`, but only what this process holds: undefined when it holds nothing for the statement (nothing is asked). */
  checkHere(asker: ApprovalAsker, sql: string, params?: string): ApprovalOutcome | undefined {
    const found = this.peek({
      objectId: asker.objectId,
      connection: asker.connection,
      sql,
      ...(params !== undefined ? { params } : {}),
      ...(asker.settings !== undefined ? { settings: asker.settings } : {}),
    });
    if (found?.state === 'approved') {
      found.state = 'used';
      found.usedBy = asker.sessionId;
      return { kind: 'approved', request: found };
    }
    if (found === undefined) return undefined;
    return found.state === 'pending' ? { kind: 'pending', request: found, created: false } : { kind: 'refused', request: found };
  }

  /** Where the pinned statement stands here, changing nothing: approved first, then pending, then refused. */
  peek(pin: ApprovalPin): ApprovalRequest | undefined {
    this.expire();
    const fingerprint = fingerprintOf(pin.sql, pin.params);
    const same = [...this.requests.values()].filter((r) => sameStatement(r, pin, fingerprint));
    return same.find((r) => r.state === 'approved') ?? same.find((r) => r.state === 'pending') ?? same.find((r) => r.state === 'refused');
  }

  /**
   * A session of another worker takes approval `id`: used here from now on (`takenElsewhere`), and
   * held by that worker (`adopt`). Undefined when it is not approved (any more).
   */
  takeForSibling(id: string, sessionId: string): ApprovalRequest | undefined {
    this.expire();
    const request = this.requests.get(id);
    if (request?.state !== 'approved') return undefined;
    request.state = 'used';
    request.usedBy = sessionId;
    request.takenElsewhere = true;
    return request;
  }

  /** An approval taken from another worker for `sessionId`: held here as used, so it can be given back here if its statement does not run. */
  adopt(taken: ApprovalRequest, sessionId: string): ApprovalRequest {
    const { takenElsewhere: _elsewhere, ...rest } = taken;
    const request: ApprovalRequest = { ...rest, state: 'used', usedBy: sessionId };
    this.requests.set(request.id, request);
    return request;
  }

  /** A request another worker holds was answered or expired: sessions here waiting on it hear it. */
  settledElsewhere(id: string, state: ApprovalState): void {
    this.tell(id, state, false);
  }

  /** Told each time a request here is answered or expires (workers pass it on to their siblings). */
  onSettled(listener: (id: string, state: ApprovalState) => void): void {
    this.settledListeners.push(listener);
  }

  /** A new request for the statement, unless the identity has too many waiting. */
  request(asker: ApprovalAsker, sql: string, what: string, params?: string): ApprovalOutcome {
    this.expire();
    const fingerprint = fingerprintOf(sql, params);
    const pendingOfIdentity = [...this.requests.values()].filter(
      (r) => r.state === 'pending' && r.asker.objectId === asker.objectId,
    ).length;
    if (pendingOfIdentity >= this.limits.pendingPerIdentity) return { kind: 'too-many', limit: this.limits.pendingPerIdentity };
    const request: ApprovalRequest = {
      id: randomBytes(6).toString('hex'),
      asker,
      sql,
      ...(params !== undefined ? { params } : {}),
      fingerprint,
      what,
      requestedAtMs: this.now(),
      state: 'pending',
      approvals: [],
    };
    this.requests.set(request.id, request);
    this.notifier?.requested(request);
    return { kind: 'pending', request, created: true };
  }

  /**
   * Every request still held (pending, answered, used or expired within the last request
   * lifetime), oldest first. An approval another worker took is listed by that worker.
   */
  list(): ApprovalRequest[] {
    this.expire();
    return [...this.requests.values()].filter((r) => r.takenElsewhere !== true);
  }

  /**
   * The statement session `sessionId` took approval `id` for never ran (the server skipped it, or
   * refused its Bind): the approval stands again, for the same statement, within its expiry.
   * True when it was given back.
   */
  giveBack(id: string, sessionId: string): boolean {
    const request = this.requests.get(id);
    if (request?.state !== 'used' || request.usedBy !== sessionId) return false;
    request.state = 'approved';
    delete request.usedBy;
    // Past its expiry it expires now, given back or not.
    this.expire();
    return this.requests.get(id)?.state === 'approved';
  }

  /** A dry run's answer for a request (kept whatever state the request is in by then). */
  setPreview(id: string, preview: ApprovalPreview): void {
    const request = this.requests.get(id);
    if (request !== undefined) request.preview = preview;
  }

  get(id: string): ApprovalRequest | undefined {
    this.expire();
    return this.requests.get(id);
  }

  /**
   * A person's answer to a pending request. A refusal decides it; an approval decides it once
   * `approvers-required` different approvers gave one. Refused: a request not pending (answered,
   * used or expired), no reason, an approver deciding on their own request, or the same approver twice.
   */
  decide(id: string, answer: Omit<ApprovalDecision, 'atMs'>): ApprovalRequest {
    this.expire();
    const request = this.requests.get(id);
    if (request === undefined) throw new ApprovalError('no-such-approval', `no approval request ${id} here`);
    if (request.state !== 'pending') {
      throw new ApprovalError('approval-not-pending', `approval request ${id} is ${request.state}, not pending`);
    }
    if (answer.reason.trim() === '') throw new ApprovalError('approval-reason-required', 'a decision needs a reason');
    if (answer.approverId !== undefined && answer.approverId === request.asker.objectId) {
      throw new ApprovalError('approval-self', `approval request ${id} was made by this identity: it cannot decide on it`);
    }
    const decision = { ...answer, atMs: this.now() };
    const decided = this.apply(request, decision);
    // The asking session records the decision before a session waiting on it runs the statement.
    this.deciders.get(id)?.(decided, decision);
    if (decided.state !== 'pending') {
      this.deciders.delete(id);
      this.tell(id, decided.state);
    }
    return decided;
  }

  /** Calls back for each request that expires unanswered, and each approval that expires unused. */
  onExpired(listener: (request: ApprovalRequest) => void): void {
    this.expiredListeners.push(listener);
  }

  /** Calls back at each decision taken on request `id` (an approval of two, the one that decides), until it is decided. */
  onDecision(id: string, listener: (request: ApprovalRequest, decision: ApprovalDecision) => void): void {
    this.deciders.set(id, listener);
  }

  private apply(request: ApprovalRequest, decision: ApprovalDecision): ApprovalRequest {
    const id = request.id;
    if (!decision.approve) return this.settle(request, 'refused', decision);
    if (request.approvals.some((a) => approverKey(a) === approverKey(decision))) {
      throw new ApprovalError(
        'approver-already-approved',
        `${decision.via} already approved request ${id}: the next approval must come from another approver (one admin token is one approver)`,
      );
    }
    request.approvals.push(decision);
    return request.approvals.length >= this.limits.approversRequired ? this.settle(request, 'approved', decision) : request;
  }

  private settle(request: ApprovalRequest, state: 'approved' | 'refused', decision: ApprovalDecision): ApprovalRequest {
    request.decision = decision;
    request.state = state;
    return request;
  }

  /**
   * Calls back once the request is answered or expires, or with `pending` after `timeoutMs`; the
   * returned function stops waiting (the session ended).
   */
  whenDecided(id: string, timeoutMs: number, callback: (state: ApprovalState) => void): () => void {
    let done = false;
    const once = (state: ApprovalState): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const left = (this.waiting.get(id) ?? []).filter((w) => w !== once);
      if (left.length > 0) this.waiting.set(id, left);
      else this.waiting.delete(id);
      callback(state);
    };
    const timer = setTimeout(() => {
      this.expire();
      once(this.requests.get(id)?.state ?? 'expired');
    }, timeoutMs);
    timer.unref();
    this.waiting.set(id, [...(this.waiting.get(id) ?? []), once]);
    return () => {
      done = true;
      clearTimeout(timer);
      const left = (this.waiting.get(id) ?? []).filter((w) => w !== once);
      if (left.length > 0) this.waiting.set(id, left);
      else this.waiting.delete(id);
    };
  }

  private tell(id: string, state: ApprovalState, here = true): void {
    for (const waiter of [...(this.waiting.get(id) ?? [])]) waiter(state);
    if (here) for (const listener of this.settledListeners) listener(id, state);
  }

  /** Pending requests past their lifetime and approvals past theirs expire; what ended a lifetime ago is forgotten. */
  private expire(): void {
    const now = this.now();
    for (const [id, r] of this.requests) {
      const decidedAt = r.decision?.atMs;
      if (r.state === 'pending' && now - r.requestedAtMs > this.limits.requestTtlMs) {
        r.state = 'expired';
        this.tell(id, 'expired');
        for (const listener of this.expiredListeners) listener(r);
      }
      if (r.state === 'approved' && decidedAt !== undefined && now - decidedAt > this.limits.approvalTtlMs) {
        r.state = 'expired';
        for (const listener of this.expiredListeners) listener(r);
      }
      if (r.state !== 'pending' && r.state !== 'approved' && now - (decidedAt ?? r.requestedAtMs) > this.limits.requestTtlMs) {
        this.requests.delete(id);
        this.deciders.delete(id);
      }
    }
  }
}

/** Of the text, and of the bound values when there are any (kept apart: no text can pass for text and values). */
export function fingerprintOf(sql: string, params?: string): string {
  const hash = createHash('sha256').update(sql);
  if (params !== undefined) hash.update('\0params\0').update(params);
  return hash.digest('hex').slice(0, 32);
}

/**
 * Who an approval counts as: the identity the endpoint proved (an Entra user, a certificate's
 * CN), never the name a caller gives — everyone holding the one admin token is one approver.
 */
function approverKey(d: ApprovalDecision): string {
  return d.approverId !== undefined ? `entra:${d.approverId}` : d.via;
}

function sameStatement(r: ApprovalRequest, pin: ApprovalPin, fingerprint: string): boolean {
  return (
    r.asker.objectId === pin.objectId &&
    r.asker.connection === pin.connection &&
    r.fingerprint === fingerprint &&
    r.sql === pin.sql &&
    r.params === pin.params &&
    r.asker.settings === pin.settings
  );
}
