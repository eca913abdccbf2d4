import type pg from 'pg';
import { AuditError } from '../audit-error.js';

/** The schema every central table lives in. */
export const CENTRAL_SCHEMA = 'idgate_audit';

/**
 * The central audit store's schema in PostgreSQL, as ordered migrations (never edit a shipped one).
 * Every table is written by INSERT only — a gateway's role there holds INSERT and SELECT and
 * nothing else, so a compromised gateway host cannot rewrite what it already shipped; a retry or a
 * restart inserts rows that are already there and `ON CONFLICT DO NOTHING` keeps the first.
 * What changes over a session's life is stored as new rows: its progress as it is shipped
 * (`session_progress`, the newest wins), its seal once it ends (`session_seals`). Each local log
 * (one per node's database, `log_id`) has its own seal and login chains.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE ${CENTRAL_SCHEMA}.log_origins (
     log_id text NOT NULL,
     id bigint NOT NULL,
     at_us bigint NOT NULL,
     node_id text,
     kind text NOT NULL,
     previous_seal_seq bigint,
     previous_seal_hash text,
     previous_login_seq bigint,
     previous_login_hash text,
     PRIMARY KEY (log_id, at_us, id)
   )`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.sessions (
     id text PRIMARY KEY,
     log_id text NOT NULL,
     node_id text,
     protocol text NOT NULL,
     started_at_us bigint NOT NULL,
     identity_oid text NOT NULL,
     app_id text NOT NULL,
     tenant_id text NOT NULL,
     display_name text,
     client_user text NOT NULL,
     mapping text NOT NULL,
     connection text NOT NULL,
     scope text NOT NULL,
     record_mode text NOT NULL,
     client_address text NOT NULL,
     client_tls integer NOT NULL,
     upstream text NOT NULL,
     head_hash text NOT NULL
   )`,
  `CREATE INDEX sessions_started ON ${CENTRAL_SCHEMA}.sessions (started_at_us)`,
  `CREATE INDEX sessions_node ON ${CENTRAL_SCHEMA}.sessions (node_id, started_at_us)`,
  `CREATE INDEX sessions_log ON ${CENTRAL_SCHEMA}.sessions (log_id)`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.session_progress (
     session_id text NOT NULL,
     event_count bigint NOT NULL,
     last_event_hash text NOT NULL,
     statements bigint NOT NULL,
     errors bigint NOT NULL,
     PRIMARY KEY (session_id, event_count)
   )`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.session_seals (
     session_id text PRIMARY KEY,
     log_id text NOT NULL,
     seal_seq bigint NOT NULL,
     ended_at_us bigint NOT NULL,
     end_reason text NOT NULL,
     bytes_from_client bigint,
     bytes_to_client bigint,
     statements bigint NOT NULL,
     errors bigint NOT NULL,
     event_count bigint NOT NULL,
     last_event_hash text NOT NULL,
     seal_hash text NOT NULL,
     UNIQUE (log_id, seal_seq)
   )`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.event_segments (
     session_id text NOT NULL,
     first_seq bigint NOT NULL,
     last_seq bigint NOT NULL,
     lines bytea NOT NULL,
     PRIMARY KEY (session_id, first_seq)
   )`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.login_attempts (
     log_id text NOT NULL,
     seq bigint NOT NULL,
     at_us bigint NOT NULL,
     accepted integer NOT NULL,
     reason text NOT NULL,
     message text NOT NULL,
     session_id text,
     identity_oid text,
     app_id text,
     connection text,
     client_user text,
     client_address text NOT NULL,
     node_id text,
     hash text NOT NULL,
     PRIMARY KEY (log_id, seq)
   )`,
  `CREATE INDEX login_attempts_time ON ${CENTRAL_SCHEMA}.login_attempts (at_us)`,
  // Version 2 (migration 13): where each log's chains resume after `idgate prune` on the central
  // store (run by the owner; the gateways' role cannot delete).
  `CREATE TABLE ${CENTRAL_SCHEMA}.prune_checkpoints (
     log_id text NOT NULL,
     at_us bigint NOT NULL,
     older_than_us bigint NOT NULL,
     last_seal_seq bigint,
     last_seal_hash text,
     last_login_seq bigint,
     last_login_hash text,
     PRIMARY KEY (log_id, at_us)
   )`,
  // Version 3 (migrations 14–18): the node key's signatures (node-key.ts) ride with the rows they
  // sign; log_keys records each key taking a log over. A prune here is the owner's: it says what
  // it removed, and the gateways' role cannot write a checkpoint.
  `ALTER TABLE ${CENTRAL_SCHEMA}.log_origins ADD COLUMN signature text`,
  `ALTER TABLE ${CENTRAL_SCHEMA}.session_seals ADD COLUMN seal_signature text`,
  `ALTER TABLE ${CENTRAL_SCHEMA}.login_attempts ADD COLUMN signature text`,
  `CREATE TABLE ${CENTRAL_SCHEMA}.log_keys (
     log_id text NOT NULL,
     id bigint NOT NULL,
     at_us bigint NOT NULL,
     node_id text,
     public_key text NOT NULL,
     from_seal_seq bigint NOT NULL,
     from_seal_hash text NOT NULL,
     from_login_seq bigint NOT NULL,
     from_login_hash text NOT NULL,
     signature text NOT NULL,
     PRIMARY KEY (log_id, id)
   )`,
  `ALTER TABLE ${CENTRAL_SCHEMA}.prune_checkpoints ADD COLUMN removed_sessions bigint, ADD COLUMN removed_events bigint, ADD COLUMN removed_logins bigint`,
  // Version 4 (migrations 19–…): a writer role bound to one node (audit-migrate --node) inserts only
  // that node's rows — and its workers' (N:wK) — into logs that node began. Row-level security
  // enforces it: a compromised node cannot write another node's history, nor take its next seal or
  // login position first. A role with no binding stays a shared writer, as before.
  `CREATE TABLE ${CENTRAL_SCHEMA}.node_writers (role name PRIMARY KEY, node_id text NOT NULL)`,
  `CREATE FUNCTION ${CENTRAL_SCHEMA}.writes_node(node text) RETURNS boolean LANGUAGE sql STABLE
     SET search_path = pg_catalog, pg_temp AS $$
     SELECT NOT EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.node_writers w WHERE w.role = current_user)
       OR EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.node_writers w WHERE w.role = current_user AND node IS NOT NULL
                  AND (node = w.node_id OR (left(node, length(w.node_id) + 2) = w.node_id || ':w'
                                             AND substr(node, length(w.node_id) + 3) ~ '^[0-9]+$')))
   $$`,
  `CREATE FUNCTION ${CENTRAL_SCHEMA}.writes_log(log text) RETURNS boolean LANGUAGE sql STABLE
     SET search_path = pg_catalog, pg_temp AS $$
     SELECT EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.log_origins o WHERE o.log_id = log AND ${CENTRAL_SCHEMA}.writes_node(o.node_id))
   $$`,
  `CREATE FUNCTION ${CENTRAL_SCHEMA}.writes_session(session text) RETURNS boolean LANGUAGE sql STABLE
     SET search_path = pg_catalog, pg_temp AS $$
     SELECT EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.sessions s WHERE s.id = session AND ${CENTRAL_SCHEMA}.writes_node(s.node_id))
   $$`,
  ...rowSecurity(
    'log_origins',
    `${CENTRAL_SCHEMA}.writes_node(node_id) AND NOT EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.log_origins o
     WHERE o.log_id = log_origins.log_id AND o.node_id IS DISTINCT FROM log_origins.node_id)`,
  ),
  ...rowSecurity('log_keys', `${CENTRAL_SCHEMA}.writes_node(node_id) AND ${CENTRAL_SCHEMA}.writes_log(log_id)`),
  ...rowSecurity('sessions', `${CENTRAL_SCHEMA}.writes_node(node_id) AND ${CENTRAL_SCHEMA}.writes_log(log_id)`),
  ...rowSecurity('login_attempts', `${CENTRAL_SCHEMA}.writes_node(node_id) AND ${CENTRAL_SCHEMA}.writes_log(log_id)`),
  ...rowSecurity('session_progress', `${CENTRAL_SCHEMA}.writes_session(session_id)`),
  ...rowSecurity('event_segments', `${CENTRAL_SCHEMA}.writes_session(session_id)`),
  ...rowSecurity(
    'session_seals',
    `${CENTRAL_SCHEMA}.writes_session(session_id) AND EXISTS (SELECT 1 FROM ${CENTRAL_SCHEMA}.sessions s
       WHERE s.id = session_seals.session_id AND s.log_id = session_seals.log_id)`,
  ),
  ...rowSecurity('prune_checkpoints', 'false'),
  // Version 5: what a replaced log's origin knows of the one it replaced (local schema 17).
  `ALTER TABLE ${CENTRAL_SCHEMA}.log_origins ADD COLUMN previous_log_id text, ADD COLUMN noticed_by text`,
  // Version 6: rows returned and affected per session (local schema 28–29).
  `ALTER TABLE ${CENTRAL_SCHEMA}.session_seals ADD COLUMN rows_returned bigint, ADD COLUMN rows_affected bigint`,
];

/**
 * Row-level security on a central table: anyone may read it; a row is inserted only when `check`
 * holds for it. The owner (and a superuser) bypass it, as they own the schema anyway.
 */
function rowSecurity(table: string, check: string): string[] {
  return [
    `ALTER TABLE ${CENTRAL_SCHEMA}.${table} ENABLE ROW LEVEL SECURITY`,
    `CREATE POLICY read_all ON ${CENTRAL_SCHEMA}.${table} FOR SELECT USING (true)`,
    `CREATE POLICY insert_own ON ${CENTRAL_SCHEMA}.${table} FOR INSERT WITH CHECK (${check})`,
  ];
}

export const CENTRAL_SCHEMA_VERSION = MIGRATIONS.length;

/** The version the central store is at (0: idgate's schema is not there). */
export async function centralSchemaVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [
    `${CENTRAL_SCHEMA}.schema_migrations`,
  ]);
  if (exists.rows[0]?.present !== true) return 0;
  const row = await client.query<{ v: number | string | null }>(`SELECT max(version) AS v FROM ${CENTRAL_SCHEMA}.schema_migrations`);
  return Number(row.rows[0]?.v ?? 0);
}

/**
 * Creates or brings up to date the central schema, in one transaction, as the role that will own
 * it; grants `writerRole` (the gateways' role) USAGE, SELECT and INSERT — nothing else — and,
 * given `node`, binds that role to the node: it may then insert only that node's rows.
 * Returns the versions applied.
 */
export async function migrateCentral(
  client: pg.ClientBase,
  writerRole: string | undefined,
  node?: string,
): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [CENTRAL_SCHEMA]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${CENTRAL_SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${CENTRAL_SCHEMA}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const from = await centralSchemaVersion(client);
    if (from > MIGRATIONS.length) {
      throw new AuditError(
        'central-schema-mismatch',
        `the central audit schema is at version ${from}, newer than this idgate understands (${MIGRATIONS.length})`,
      );
    }
    for (let v = from; v < MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v] ?? '');
      await client.query(`INSERT INTO ${CENTRAL_SCHEMA}.schema_migrations (version) VALUES ($1)`, [v + 1]);
    }
    if (writerRole !== undefined) {
      const role = quoteIdentifier(writerRole);
      await client.query(`GRANT USAGE ON SCHEMA ${CENTRAL_SCHEMA} TO ${role}`);
      await client.query(`GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${CENTRAL_SCHEMA} TO ${role}`);
      // Only the owner prunes (a checkpoint could hide the oldest history), binds roles to nodes and migrates.
      for (const table of ['prune_checkpoints', 'node_writers', 'schema_migrations']) {
        await client.query(`REVOKE INSERT ON ${CENTRAL_SCHEMA}.${table} FROM ${role}`);
      }
      if (node !== undefined) {
        await client.query(
          `INSERT INTO ${CENTRAL_SCHEMA}.node_writers (role, node_id) VALUES ($1, $2) ON CONFLICT (role) DO UPDATE SET node_id = EXCLUDED.node_id`,
          [writerRole, node],
        );
      }
    }
    await client.query('COMMIT');
    return { from, to: MIGRATIONS.length };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
