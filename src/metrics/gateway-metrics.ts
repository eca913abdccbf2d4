import { entryName } from '../policy/entry-name.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EndReason } from '../session/end-reason.js';
import { CENSUS_FLAGS, type IdentityCensus } from './identity-census.js';
import type { MemoryBudget } from '../session/memory-budget.js';
import type { LiveSession, SessionListener, SessionRegistry } from '../session/session-registry.js';
import type { SessionActivity } from '../session/session-activity.js';

/** End reasons that are a revocation: the identity lost what admitted it, or an operator stopped it. */
const REVOCATIONS: ReadonlySet<EndReason> = new Set<EndReason>([
  'identity-disabled',
  'membership-revoked',
  'role-revoked',
  'identity-unverifiable',
  'token-expired',
  'signing-key-removed',
  'access-changed',
  'admin-terminated',
]);

/** What the audit log tells the metrics at scrape time. */
export interface AuditGauges {
  /** Events recorded and not yet written to the local database. */
  readonly backlog: number;
  /** Rows written locally and not yet shipped to the central store. */
  readonly centralBacklog: number;
  readonly healthy: boolean;
  /** Write-ahead journal appends that made the relay thread wait past SLOW_APPEND_MS. */
  readonly journalSlowAppends: number;
  /** Write-ahead journal appends made, and client chunks held until one had them. */
  readonly journalAppends: number;
  readonly journalHeldChunks: number;
}

interface Totals {
  readonly connection: string;
  readonly entry: string;
  statements: number;
  statementMs: number;
  transactions: number;
  transactionMs: number;
  bytesFromClient: number;
  bytesToClient: number;
  rowsReturned: number;
  rowsAffected: number;
}

/** The totals' key: a connection and an identity-map entry (entry names cannot hold a NUL). */
function totalsKey(connection: string, entry: string): string {
  return `${connection}\u0000${entry}`;
}

/**
 * The gateway's Prometheus metrics (prom-client). Events that are rare (logins, denials, ends,
 * Graph calls) are counted as they happen; what changes on every round trip (statements, bytes)
 * stays in each session's plain counters and is summed only when scraped, so the relay pays
 * nothing for metrics. Names follow pgbouncer_exporter's where the meaning is the same.
 */
export class GatewayMetrics implements SessionListener {
  readonly registry = new Registry();
  private readonly startedAt = Date.now();
  private configGeneration = 1;
  /** Per connection and identity-map entry: what ended sessions did (live sessions are added at each scrape). */
  private readonly ended = new Map<string, Totals>();
  private readonly logins: Counter<'result' | 'reason'>;
  private readonly cancels: Counter<'result'>;
  private readonly tokenSeconds: Histogram<'result'>;
  private readonly graphSeconds: Histogram<'result'>;
  private readonly endedSessions: Counter<'connection' | 'reason'>;
  private readonly revocations: Counter<'reason'>;
  private readonly denials: Counter<'connection' | 'entry'>;
  // Registered with the registry above (its default labels apply at each scrape).
  private readonly reloadFailures = new Counter({
    name: 'idgate_config_reload_failures_total',
    help: 'Reloads refused (SIGHUP): the file did not load, changed a restart-only key, or its TLS certificate and key do not fit; the configuration in force stayed.',
    registers: [this.registry],
  });
  private readonly approvals = new Counter({
    name: 'idgate_approvals_total',
    help: 'Statements held for approval: requested, approved, refused, used (the approved statement ran), returned (the server skipped it: the approval stands again), expired (a request unanswered, or an approval unused, in time).',
    labelNames: ['event'],
    registers: [this.registry],
  });
  private readonly approvalWait = new Histogram({
    name: 'idgate_approval_wait_seconds',
    help: 'From a statement held for approval to the decision on it (approved by enough approvers, or refused).',
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  private readonly overloadLookups = new Counter({
    name: 'idgate_overload_lookups_total',
    help: "Scoped logins' lookups of overloaded built-in names, by who answered: the connection's kept lookup session (kept), or the new session's own backend after its login (own: the connection has overload-lookup: per-login, or the kept session could not answer in time, or is connected to another server).",
    labelNames: ['connection', 'answered_by'],
    registers: [this.registry],
  });
  private readonly auditWriteSeconds: Histogram;
  private readonly limitRefusals: Counter<'limit'>;
  private readonly outOfSync: Counter;

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly audit: () => AuditGauges,
    budget: MemoryBudget,
    /** Client connections open and not yet relayed (logging in). */
    private readonly waitingClients: () => number,
    nodeId: string,
  ) {
    const registry = this.registry;
    registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: registry });
    sessions.listen(this);
    this.logins = new Counter({
      name: 'idgate_logins_total',
      help: 'Login attempts by result (accepted, refused) and reason code.',
      labelNames: ['result', 'reason'],
      registers: [registry],
    });
    this.cancels = new Counter({
      name: 'idgate_cancel_requests_total',
      help: 'CancelRequests by result: forwarded, unknown-key (no session here has it), dropped (over the per-source guessing limit).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.tokenSeconds = new Histogram({
      name: 'idgate_token_verification_seconds',
      help: 'Time to verify an access token and admit its identity (Graph included when asked).',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
    this.graphSeconds = new Histogram({
      name: 'idgate_graph_request_duration_seconds',
      help: 'Microsoft Graph requests by result (ok, failed).',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.endedSessions = new Counter({
      name: 'idgate_sessions_ended_total',
      help: 'Sessions ended, by connection and end reason.',
      labelNames: ['connection', 'reason'],
      registers: [registry],
    });
    this.revocations = new Counter({
      name: 'idgate_revocations_total',
      help: 'Sessions ended because access was withdrawn (identity disabled, membership or role removed, token expired, reload, an administrator).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.denials = new Counter({
      name: 'idgate_scope_denials_total',
      help: 'Statements denied by a scope, by connection and identity-map entry.',
      labelNames: ['connection', 'entry'],
      registers: [registry],
    });
    this.limitRefusals = new Counter({
      name: 'idgate_limit_refusals_total',
      help: 'Sessions refused or statements stopped by a configured limit.',
      labelNames: ['limit'],
      registers: [registry],
    });
    this.outOfSync = new Counter({
      name: 'idgate_reply_out_of_sync_total',
      help: "Sessions ended because the server's replies no longer fitted what the gateway forwarded (a bug or a hostile server: 0 expected).",
      registers: [registry],
    });
    this.auditWriteSeconds = new Histogram({
      name: 'idgate_audit_write_seconds',
      help: 'Time from handing a batch of audit events to the writer thread to its commit.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    });
    this.observeState(sessions, budget);
  }

  /** What is read at each scrape: liveness, sessions, traffic totals, the audit log's and the memory budget's state. */
  private observeState(sessions: SessionRegistry, budget: MemoryBudget): void {
    this.gauge('idgate_up', 'Whether the gateway serves (always 1 when scraped).', [], (g) => g.set(1));
    this.gauge('idgate_uptime_seconds', 'Seconds since the gateway started.', [], (g) => g.set((Date.now() - this.startedAt) / 1000));
    this.gauge('idgate_config_generation', 'The configuration in force: 1 at start, one more per successful reload.', [], (g) =>
      g.set(this.configGeneration),
    );
    this.gauge(
      'idgate_client_waiting_connections',
      'Client connections open and not yet in a session (TLS, token check, upstream login).',
      [],
      (g) => g.set(this.waitingClients()),
    );
    this.gauge('idgate_client_active_connections', 'Client connections in a session, by connection.', ['connection'], (g) =>
      this.perConnection(g),
    );
    this.gauge('idgate_server_active_connections', 'Upstream connections serving a session, by connection.', ['connection'], (g) =>
      this.perConnection(g),
    );
    this.gauge(
      'idgate_sessions',
      'Live sessions by connection and identity-map entry (its name, else #N and what it matches).',
      ['connection', 'entry'],
      (g) => {
        g.reset();
        for (const s of sessions.list()) g.inc({ connection: s.grant.connection.name, entry: entryName(s.grant.rule) });
      },
    );
    this.registerTotals();
    this.gauge('idgate_audit_backlog_events', 'Audit events recorded and not yet committed to the local database.', [], (g) =>
      g.set(this.audit().backlog),
    );
    this.gauge('idgate_audit_central_backlog_rows', 'Audit rows committed locally and not yet shipped to the central store.', [], (g) =>
      g.set(this.audit().centralBacklog),
    );
    this.gauge(
      'idgate_memory_held_bytes',
      'Bytes all sessions hold in messages being assembled (bounded by listen.memory-budget-bytes).',
      [],
      (g) => g.set(budget.heldBytes),
    );
    this.gauge('idgate_memory_budget_bytes', 'listen.memory-budget-bytes.', [], (g) => g.set(budget.limitBytes));
    const audit = this.audit;
    this.auditCounter(
      'idgate_audit_journal_slow_appends_total',
      'Write-ahead journal appends that made the relay thread wait over 10 ms (each sends the next 5 s of appends to the thread pool).',
      () => audit().journalSlowAppends,
    );
    this.auditCounter(
      'idgate_audit_journal_appends_total',
      'Write-ahead journal appends: one per event-loop turn in which recorded sessions sent something (group commit), and one per batch sent to the audit writer.',
      () => audit().journalAppends,
    );
    this.auditCounter(
      'idgate_audit_journal_held_chunks_total',
      'Client chunks held until the write-ahead journal had them; under load, divided by the appends, the chunks each append served.',
      () => audit().journalHeldChunks,
    );
    this.gauge('idgate_audit_healthy', 'Whether the audit log can be written (0: recorded sessions are refused).', [], (g) =>
      g.set(this.audit().healthy ? 1 : 0),
    );
  }

  /** A counter the audit log keeps itself, read at scrape time. */
  private auditCounter(name: string, help: string, value: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  }

  added(): void {}

  removed(session: LiveSession, reason: EndReason): void {
    const connection = session.grant.connection.name;
    const t = this.totalsFor(connection, entryName(session.grant.rule));
    const a = session.activity;
    t.statements += a.statements;
    t.statementMs += a.statementMs;
    t.transactions += a.transactions;
    t.transactionMs += a.transactionMs;
    t.bytesFromClient += a.bytesFromClient;
    t.bytesToClient += a.bytesToClient;
    t.rowsReturned += a.rowsReturned;
    t.rowsAffected += a.rowsAffected;
    this.endedSessions.inc({ connection, reason });
    if (REVOCATIONS.has(reason)) this.revocations.inc({ reason });
  }

  /** A CancelRequest and what became of it: `forwarded` (held here, by a sibling or passed to peers), `unknown-key`, `dropped` (over the guessing limit). */
  cancelRequest(result: 'forwarded' | 'unknown-key' | 'dropped'): void {
    this.cancels.inc({ result });
  }

  login(accepted: boolean, reason: string): void {
    this.logins.inc({ result: accepted ? 'accepted' : 'refused', reason });
  }

  tokenVerified(seconds: number, ok: boolean): void {
    this.tokenSeconds.observe({ result: ok ? 'ok' : 'refused' }, seconds);
  }

  graphRequest(seconds: number, ok: boolean): void {
    this.graphSeconds.observe({ result: ok ? 'ok' : 'failed' }, seconds);
  }

  /** `entry`: as policy/entry-name.ts names it. */
  scopeDenied(connection: string, entry: string): void {
    this.denials.inc({ connection, entry });
  }

  limitReached(limit: string): void {
    this.limitRefusals.inc({ limit });
  }

  /** A scoped login learnt which built-in names its search path overloads. */
  overloadLookup(connection: string, answeredBy: 'kept' | 'own'): void {
    this.overloadLookups.inc({ connection, answered_by: answeredBy });
  }

  /** A session's reply model and its server disagreed: the session ended rather than guess. */
  replyOutOfSync(): void {
    this.outOfSync.inc();
  }

  /** How many sessions ended out of sync since the start (tests assert 0). */
  async replyOutOfSyncCount(): Promise<number> {
    return (await this.outOfSync.get()).values.reduce((sum, v) => sum + v.value, 0);
  }

  auditBatchWritten(seconds: number): void {
    this.auditWriteSeconds.observe(seconds);
  }

  /** Publishes the identity census's counts (idgate_identities by flag), once a census runs. */
  census(census: IdentityCensus): void {
    this.gauge(
      'idgate_identities',
      'Identities the identity-map lets in (flag="listed"), and how many of them idgate identities flags unused, shared, disabled or over-scoped.',
      ['flag'],
      (g) => {
        g.reset();
        const counts = census.counts;
        if (counts === undefined) return;
        g.set({ flag: 'listed' }, counts.listed);
        for (const flag of CENSUS_FLAGS) g.set({ flag }, counts.flagged[flag]);
      },
    );
    this.gauge('idgate_identities_census_timestamp_seconds', 'When the last complete identity census was taken (0: none yet).', [], (g) =>
      g.set((census.counts?.at ?? 0) / 1000),
    );
    this.gauge(
      'idgate_identities_census_failures',
      'Identity censuses that failed (Graph unavailable): the last complete one stays published.',
      [],
      (g) => g.set(census.failureCount),
    );
  }

  reloaded(): void {
    this.configGeneration += 1;
  }

  approval(event: 'requested' | 'approved' | 'refused' | 'used' | 'returned' | 'expired'): void {
    this.approvals.inc({ event });
  }

  /** A request was decided this long after it was made. */
  approvalDecided(seconds: number): void {
    this.approvalWait.observe(seconds);
  }

  /** A reload was refused: the file did not load, changed what needs a restart, or its certificate and key do not fit. */
  reloadFailed(): void {
    this.reloadFailures.inc();
  }

  /** The text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        collect(this);
      },
    });
  }

  /** Live sessions by connection (each holds one client and one upstream connection), 0 for a connection seen before. */
  private perConnection(g: Gauge<'connection'>): void {
    g.reset();
    for (const name of this.connectionNames()) g.set({ connection: name }, 0);
    for (const s of this.sessions.list()) g.inc({ connection: s.grant.connection.name });
  }

  /** The counters of what sessions did, per connection and identity-map entry. */
  private registerTotals(): void {
    const totals = (name: string, help: string, pick: (t: Totals | SessionActivity) => number): void =>
      this.totalsCounter(name, help, pick);
    totals('idgate_queries_total', 'Round trips completed (a Query, or an extended-protocol batch up to its Sync).', (t) => t.statements);
    totals(
      'idgate_queries_duration_seconds_total',
      'Time from a round trip’s first client byte to its ReadyForQuery.',
      (t) => t.statementMs / 1000,
    );
    totals(
      'idgate_transactions_total',
      'Transactions completed (from BEGIN, or the first statement, to the ReadyForQuery back out of it).',
      (t) => t.transactions,
    );
    totals('idgate_transactions_duration_seconds_total', 'Time spent inside transactions.', (t) => t.transactionMs / 1000);
    totals('idgate_received_bytes_total', 'Bytes received from clients in sessions.', (t) => t.bytesFromClient);
    totals('idgate_sent_bytes_total', 'Bytes sent to clients in sessions.', (t) => t.bytesToClient);
    totals('idgate_rows_returned_total', 'Result rows sent to clients (DataRows, and the rows of COPY TO STDOUT).', (t) => t.rowsReturned);
    totals(
      'idgate_rows_affected_total',
      'Rows written by statements, by their command tags (INSERT, UPDATE, DELETE, MERGE, COPY FROM, CREATE TABLE AS).',
      (t) => t.rowsAffected,
    );
  }

  /** A counter summed at scrape: ended sessions' totals plus the live sessions' so far. */
  private totalsCounter(name: string, help: string, pick: (t: Totals | SessionActivity) => number): void {
    const sessions = this.sessions;
    const ended = this.ended;
    new Counter<'connection' | 'entry'>({
      name,
      help,
      labelNames: ['connection', 'entry'],
      registers: [this.registry],
      collect() {
        const now = new Map<string, { connection: string; entry: string; value: number }>();
        for (const [key, t] of ended) now.set(key, { connection: t.connection, entry: t.entry, value: pick(t) });
        for (const s of sessions.list()) {
          const connection = s.grant.connection.name;
          const entry = entryName(s.grant.rule);
          const key = totalsKey(connection, entry);
          const sum = now.get(key);
          if (sum === undefined) now.set(key, { connection, entry, value: pick(s.activity) });
          else sum.value += pick(s.activity);
        }
        this.reset();
        for (const { connection, entry, value } of now.values()) this.inc({ connection, entry }, value);
      },
    });
  }

  private connectionNames(): Set<string> {
    return new Set([...[...this.ended.values()].map((t) => t.connection), ...this.sessions.list().map((s) => s.grant.connection.name)]);
  }

  private totalsFor(connection: string, entry: string): Totals {
    const key = totalsKey(connection, entry);
    let t = this.ended.get(key);
    if (t === undefined) {
      t = {
        connection,
        entry,
        statements: 0,
        statementMs: 0,
        transactions: 0,
        transactionMs: 0,
        bytesFromClient: 0,
        bytesToClient: 0,
        rowsReturned: 0,
        rowsAffected: 0,
      };
      this.ended.set(key, t);
    }
    return t;
  }
}
