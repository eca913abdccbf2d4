import type { Database } from 'better-sqlite3';
import type pg from 'pg';
import { openAuditDatabase } from '../audit-store.js';
import { KEY_COLUMNS, LOGIN_COLUMNS, localColumns, ORIGIN_COLUMNS } from './central-columns.js';
import { CENTRAL_SCHEMA as S } from './central-schema.js';

/** What a command needs of the central store. */
export type CentralScope =
  /** The session rows only (sessions). */
  | { readonly kind: 'sessions' }
  /** One session, by id or id prefix, with its events (show, export, replay). */
  | { readonly kind: 'session'; readonly idPrefix: string }
  /** Every session with its events (usage, identities). */
  | { readonly kind: 'all' }
  /** One node's log whole — sessions with their seals, events, login attempts, origin — as its own chains (verify). */
  | { readonly kind: 'log'; readonly logId: string };

/** The logs the central store holds: one per node database, each with its own chains. */
export async function centralLogs(client: pg.ClientBase): Promise<{ readonly logId: string; readonly nodeId: string | null }[]> {
  const rows = await client.query<{ log_id: string; node_id: string | null }>(
    `SELECT log_id, max(node_id) AS node_id FROM (SELECT log_id, node_id FROM ${S}.sessions UNION ALL SELECT log_id, node_id FROM ${S}.login_attempts
       UNION ALL SELECT log_id, node_id FROM ${S}.log_origins) l GROUP BY log_id ORDER BY 2, 1`,
  );
  return rows.rows.map((r) => ({ logId: r.log_id, nodeId: r.node_id }));
}

/**
 * Copies what `scope` needs from the central store into a new local audit database at `path`, in
 * the local schema, so every reading command runs the very code it runs on a node's own log. A
 * session's row is its header with its seal, or (still open) its newest progress. Seal sequence
 * numbers are kept only for one log (`log`): they are per log, and two nodes' would collide.
 */
export async function copyCentral(client: pg.ClientBase, scope: CentralScope, path: string): Promise<void> {
  const db = openAuditDatabase(path);
  try {
    const where = scope.kind === 'session' ? 's.id LIKE $1' : scope.kind === 'log' ? 's.log_id = $1' : 'true';
    const params = scope.kind === 'session' ? [`${scope.idPrefix.replace(/[%_\\]/g, '\\$&')}%`] : scope.kind === 'log' ? [scope.logId] : [];
    const sessions = await client.query(
      `SELECT s.*, se.seal_seq, se.seal_hash, se.seal_signature, se.ended_at_us, se.end_reason, se.bytes_from_client, se.bytes_to_client,
         se.rows_returned, se.rows_affected,
         coalesce(se.statements, p.statements, 0) AS statements, coalesce(se.errors, p.errors, 0) AS errors,
         coalesce(se.event_count, p.event_count, 0) AS event_count, coalesce(se.last_event_hash, p.last_event_hash, s.head_hash) AS last_event_hash
       FROM ${S}.sessions s
       LEFT JOIN ${S}.session_seals se ON se.session_id = s.id
       LEFT JOIN LATERAL (SELECT * FROM ${S}.session_progress p WHERE p.session_id = s.id ORDER BY p.event_count DESC LIMIT 1) p ON true
       WHERE ${where}`,
      params,
    );
    const keepSeals = scope.kind === 'log';
    insertAll(
      db,
      'sessions',
      SESSION_COLUMNS,
      sessions.rows.map((r: Record<string, unknown>) => (keepSeals ? r : { ...r, seal_seq: null })),
    );
    if (scope.kind !== 'sessions') {
      const ids = sessions.rows.map((r: Record<string, unknown>) => String(r['id']));
      const segments = await client.query(
        `SELECT session_id, first_seq, last_seq, lines FROM ${S}.event_segments WHERE session_id = ANY($1) ORDER BY session_id, first_seq`,
        [ids],
      );
      insertAll(db, 'event_segments', ['session_id', 'first_seq', 'last_seq', 'lines'], segments.rows);
    }
    if (scope.kind === 'all') {
      // Login sequence numbers are per log: numbered afresh in time order (their chains are verify's business, per log).
      const logins = await client.query(`SELECT * FROM ${S}.login_attempts ORDER BY at_us, log_id, seq`);
      insertAll(
        db,
        'login_attempts',
        localColumns(LOGIN_COLUMNS),
        logins.rows.map((r: Record<string, unknown>, i: number) => ({ ...r, seq: i + 1 })),
      );
    }
    if (scope.kind === 'log') {
      const logins = await client.query(`SELECT * FROM ${S}.login_attempts WHERE log_id = $1 ORDER BY seq`, [scope.logId]);
      insertAll(db, 'login_attempts', localColumns(LOGIN_COLUMNS), logins.rows);
      const origins = await client.query(`SELECT * FROM ${S}.log_origins WHERE log_id = $1 ORDER BY at_us, id`, [scope.logId]);
      insertAll(db, 'log_origins', localColumns(ORIGIN_COLUMNS), origins.rows);
      const keys = await client.query(`SELECT * FROM ${S}.log_keys WHERE log_id = $1 ORDER BY id`, [scope.logId]);
      insertAll(db, 'log_keys', localColumns(KEY_COLUMNS), keys.rows);
      // Where the chains resume after a prune on the central store.
      const checkpoint = await client.query(`SELECT * FROM ${S}.prune_checkpoints WHERE log_id = $1 ORDER BY at_us DESC LIMIT 1`, [
        scope.logId,
      ]);
      insertAll(db, 'prune_checkpoints', CHECKPOINT_COLUMNS, checkpoint.rows);
    }
  } finally {
    db.close();
  }
}

const SESSION_COLUMNS = [
  'id',
  'protocol',
  'started_at_us',
  'ended_at_us',
  'end_reason',
  'identity_oid',
  'app_id',
  'tenant_id',
  'display_name',
  'client_user',
  'mapping',
  'connection',
  'scope',
  'record_mode',
  'client_address',
  'client_tls',
  'upstream',
  'bytes_from_client',
  'bytes_to_client',
  'rows_returned',
  'rows_affected',
  'statements',
  'errors',
  'event_count',
  'head_hash',
  'last_event_hash',
  'seal_seq',
  'seal_hash',
  'seal_signature',
  'node_id',
];
const CHECKPOINT_COLUMNS = [
  'at_us',
  'older_than_us',
  'last_seal_seq',
  'last_seal_hash',
  'last_login_seq',
  'last_login_hash',
  'removed_sessions',
  'removed_events',
  'removed_logins',
];

function insertAll(db: Database, table: string, columns: readonly string[], rows: readonly Record<string, unknown>[]): void {
  const insert = db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  db.transaction(() => {
    for (const row of rows) insert.run(...columns.map((c) => sqliteValue(row[c])));
  })();
}

/** PostgreSQL's bigint arrives as a string; the local columns' INTEGER affinity stores it as a number. */
function sqliteValue(value: unknown): unknown {
  return value === undefined ? null : value;
}
