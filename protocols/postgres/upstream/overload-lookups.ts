import { AccessError } from '../../../src/access-error.js';
import type { ConnectionConfig } from '../../../src/config/gateway-config.js';
import type { UpstreamPasswords } from '../../../src/identity/upstream-passwords.js';
import { errorMessage } from '../../../src/idgate-error.js';
import type { Logger } from '../../../src/logging/logger.js';
import { SHADOWED_BUILTINS_QUERY } from '../policy/shadowed-builtins.js';
import { pinnedStartupSettings } from '../policy/scoped-session.js';
import { TERMINATE } from '../wire/frontend-messages.js';
import { loginUpstream, type UpstreamSession } from './login-upstream.js';
import { querySession } from './session-query.js';

export type LookupRows = readonly (readonly (string | null)[])[];

/** A kept session's answer, and the server address it came from. */
export interface KeptAnswer {
  readonly rows: LookupRows;
  /** The kept session's peer (address and port): the answer is used only by a session logged in to the same one. */
  readonly endpoint: string;
}

/**
 * The server a session's socket is connected to, as the kernel reports it. A host name that resolves
 * to several servers (round-robin replicas) gives sessions different endpoints; a Unix socket path
 * has no address, and the connection's path names one server.
 */
export function endpointOf(session: UpstreamSession): string {
  const { remoteAddress, remotePort } = session.socket;
  return remoteAddress === undefined ? 'local' : `${remoteAddress}:${remotePort ?? 0}`;
}

/** What the kept sessions show in pg_stat_activity. */
export const LOOKUP_APPLICATION_NAME = 'idgate overload lookup';
/** A kept session no scoped login asked of for this long is closed. */
const IDLE_CLOSE_MS = 30_000;
/** A warm backend answers in milliseconds; past this the kept session is dropped and logins ask their own. */
const ANSWER_MS = 1000;
/**
 * After the kept session failed, logins ask their own sessions for this long before it is tried
 * again: a role at its connection limit, or a server too busy to answer in time, is not given a
 * second login attempt with every scoped login.
 */
const RETRY_AFTER_MS = 10_000;

/**
 * The overload lookup (policy/shadowed-builtins.ts) asked on a session the gateway keeps per
 * upstream connection, while a scoped login's own upstream login is under way: on a backend whose
 * catalog caches are warm the query takes a fraction of its cold cost, and it runs beside the login
 * rather than after it.
 *
 * The answer is the one the new session's own backend would give: the kept session logs in to the
 * same connection (host, database, role — the connection has one credential) with the same pinned
 * search path, and the lookup reads only the catalog through that path. Every answer comes from a
 * query that starts after the login asked, so an overload committed before an agent's login began
 * is always seen — the same promise as asking the new session itself, with no cached answer. Logins
 * that ask while a query runs share the next one. When the kept session cannot answer (it cannot
 * log in, its backend went away, it is slow), the login asks its own session, as without it.
 */
export class OverloadLookups {
  private readonly kept = new Map<ConnectionConfig, KeptLookupSession>();

  constructor(
    private readonly log: Logger,
    private readonly passwords?: UpstreamPasswords,
  ) {}

  /** The answer of a lookup that starts after this call; rejects when the kept session cannot give one. */
  ask(connection: ConnectionConfig): Promise<KeptAnswer> {
    let session = this.kept.get(connection);
    if (session === undefined) {
      // A reloaded configuration brings new connection objects: the old ones' sessions close when idle.
      const log = this.log.child({ connection: connection.name });
      session = new KeptLookupSession(connection, this.passwords, log, () => this.kept.delete(connection));
      this.kept.set(connection, session);
    }
    return session.ask();
  }

  /** Closes every kept session (the gateway is stopping). */
  close(): void {
    for (const session of this.kept.values()) session.close();
    this.kept.clear();
  }
}

interface Waiter {
  resolve(answer: KeptAnswer): void;
  reject(error: unknown): void;
}

class KeptLookupSession {
  private session: UpstreamSession | undefined;
  private waiting: Waiter[] = [];
  private busy = false;
  private idle: NodeJS.Timeout | undefined;
  private closed = false;
  /** Until when (Date.now()) asks are refused at once after a failure. */
  private resting = 0;

  constructor(
    private readonly connection: ConnectionConfig,
    private readonly passwords: UpstreamPasswords | undefined,
    private readonly log: Logger,
    private readonly onClosed: () => void,
  ) {}

  ask(): Promise<KeptAnswer> {
    if (Date.now() < this.resting) return Promise.reject(unavailable('it failed a moment ago'));
    clearTimeout(this.idle);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.busy) void this.answerAll();
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idle);
    this.drop();
    for (const waiter of this.waiting.splice(0)) waiter.reject(unavailable('it closed'));
  }

  /** One query at a time; everyone who asked before it is sent shares it. */
  private async answerAll(): Promise<void> {
    this.busy = true;
    while (this.waiting.length > 0 && !this.closed) await this.answerNext();
    this.busy = false;
    if (!this.closed) this.idle = setTimeout(() => this.closeIdle(), IDLE_CLOSE_MS).unref();
  }

  /**
   * Answers those waiting with one query. A session that answered before and fails now (its
   * backend was ended, the server restarted) is replaced at once and the query made again, later
   * still; a fresh session that fails makes the logins ask their own for `RETRY_AFTER_MS`.
   */
  private async answerNext(): Promise<void> {
    let batch: Waiter[] = [];
    const reused = this.session !== undefined;
    try {
      const session = this.session ?? (await this.open());
      batch = this.waiting.splice(0);
      const answer = await querySession(session, SHADOWED_BUILTINS_QUERY, this.answerMs(), 'lookup of overloaded built-in names');
      // What the server sent besides the replies (a NOTICE, a ParameterStatus) is no one's here.
      this.session = { ...answer.session, leftover: Buffer.alloc(0) };
      const kept = { rows: answer.rows, endpoint: endpointOf(session) };
      for (const waiter of batch) waiter.resolve(kept);
    } catch (e) {
      this.drop();
      if (reused) {
        this.waiting.unshift(...batch);
        return;
      }
      this.log.warn(
        { err: errorMessage(e) },
        'the kept session for overload lookups failed: scoped logins ask their own until it answers again',
      );
      this.resting = Date.now() + RETRY_AFTER_MS;
      for (const waiter of [...batch, ...this.waiting.splice(0)]) waiter.reject(e);
    }
  }

  private async open(): Promise<UpstreamSession> {
    const parameters = new Map<string, string>([
      ['application_name', LOOKUP_APPLICATION_NAME],
      ['search_path', this.connection.searchPath],
      ...pinnedStartupSettings(),
      ['default_transaction_read_only', 'on'],
    ]);
    const session = await loginUpstream(this.connection, parameters, this.passwords);
    // A backend that goes away while idle (a restart, idle_session_timeout) is dropped at once.
    session.socket.once('close', () => {
      if (this.session?.socket === session.socket) this.session = undefined;
    });
    session.socket.on('error', () => undefined);
    // The gateway's own: it never keeps the process alive (the logins it serves do while they run).
    session.socket.unref();
    this.session = session;
    return session;
  }

  private answerMs(): number {
    return Math.min(this.connection.connectTimeoutMs, ANSWER_MS);
  }

  private closeIdle(): void {
    if (this.busy || this.waiting.length > 0) return;
    this.close();
    this.onClosed();
  }

  private drop(): void {
    const session = this.session;
    this.session = undefined;
    if (session !== undefined && !session.socket.destroyed) session.socket.end(TERMINATE);
  }
}

function unavailable(why: string): AccessError {
  return new AccessError('upstream-unreachable', `the kept session for overload lookups cannot answer: ${why}`);
}
