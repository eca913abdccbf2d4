import type { Database } from 'better-sqlite3';
import { AuditError } from './audit-error.js';

/**
 * The audit database's schema, as an ordered list of migrations. A database records the highest
 * version applied; opening it applies the rest in one transaction. Never edit a shipped migration:
 * add one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     protocol TEXT NOT NULL,
     started_at_us INTEGER NOT NULL,
     ended_at_us INTEGER,
     end_reason TEXT,
     identity_oid TEXT NOT NULL,
     app_id TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     display_name TEXT,
     client_user TEXT NOT NULL,
     mapping TEXT NOT NULL,
     connection TEXT NOT NULL,
     scope TEXT NOT NULL,
     record_mode TEXT NOT NULL,
     client_address TEXT NOT NULL,
     client_tls INTEGER NOT NULL,
     upstream TEXT NOT NULL,
     bytes_from_client INTEGER,
     bytes_to_client INTEGER,
     statements INTEGER NOT NULL DEFAULT 0,
     errors INTEGER NOT NULL DEFAULT 0,
     event_count INTEGER NOT NULL DEFAULT 0,
     head_hash TEXT NOT NULL,
     last_event_hash TEXT NOT NULL,
     seal_seq INTEGER UNIQUE,
     seal_hash TEXT
   )`,
  // Events are stored in segments, one row per session per writer batch: one insert for many
  // events. Each line is one event: seq, hash, at_us, direction, kind, outcome, data (JSON),
  // tab-separated; every event keeps its own chained hash.
  `CREATE TABLE event_segments (
     session_id TEXT NOT NULL,
     first_seq INTEGER NOT NULL,
     last_seq INTEGER NOT NULL,
     lines TEXT NOT NULL,
     PRIMARY KEY (session_id, first_seq)
   ) WITHOUT ROWID`,
  `CREATE TABLE login_attempts (
     seq INTEGER PRIMARY KEY,
     at_us INTEGER NOT NULL,
     accepted INTEGER NOT NULL,
     reason TEXT NOT NULL,
     message TEXT NOT NULL,
     session_id TEXT,
     identity_oid TEXT,
     app_id TEXT,
     connection TEXT,
     client_user TEXT,
     client_address TEXT NOT NULL,
     hash TEXT NOT NULL
   )`,
  `CREATE TABLE prune_checkpoints (
     id INTEGER PRIMARY KEY,
     at_us INTEGER NOT NULL,
     older_than_us INTEGER NOT NULL,
     last_seal_seq INTEGER,
     last_seal_hash TEXT,
     last_login_seq INTEGER,
     last_login_hash TEXT
   )`,
  `CREATE INDEX sessions_started ON sessions (started_at_us)`,
  `CREATE INDEX sessions_identity ON sessions (identity_oid, started_at_us)`,
  `CREATE INDEX sessions_app ON sessions (app_id, started_at_us)`,
  `CREATE INDEX sessions_connection ON sessions (connection, started_at_us)`,
  `CREATE INDEX login_attempts_time ON login_attempts (at_us)`,
  // Version 11: event_segments.lines holds a BLOB for segments written from here on — the binary
  // form of event-segment.ts (raw frames, no base64). Text segments written before stay readable.
  `SELECT 1`,
  // Version 12: the fleet node that wrote each session and login attempt (null before).
  `ALTER TABLE sessions ADD COLUMN node_id TEXT`,
  `ALTER TABLE login_attempts ADD COLUMN node_id TEXT`,
  `CREATE INDEX sessions_node ON sessions (node_id, started_at_us)`,
  // Version 13: how this database began — created with nothing known before it, or in place of a
  // database removed or replaced under the gateway, continuing that one's chains.
  `CREATE TABLE log_origins (
     id INTEGER PRIMARY KEY,
     at_us INTEGER NOT NULL,
     node_id TEXT,
     kind TEXT NOT NULL,
     previous_seal_seq INTEGER,
     previous_seal_hash TEXT,
     previous_login_seq INTEGER,
     previous_login_hash TEXT
   )`,
  // Version 14: the write-ahead journal this database is applied from — its id (the journal's
  // header names it) and the last journal record applied, stored with each batch so recovery
  // replays only what follows.
  `CREATE TABLE write_ahead (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     log_id TEXT NOT NULL,
     applied_seq INTEGER NOT NULL
   )`,
  // Version 15: what is still to be shipped to the central store (recordings.central), in the order
  // it was written: kind 'origin' (item = log_origins.id), 'session', 'progress', 'segment'
  // (item = first_seq), 'seal', 'login' (item = seq). A row goes once the central store confirmed it.
  `CREATE TABLE ship_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind TEXT NOT NULL,
     session_id TEXT,
     item INTEGER
   )`,
  // Version 16: signatures by the node's key (node-key.ts). A seal and a login attempt sign their
  // chain hash; an origin and a prune checkpoint sign a digest of their fields; a log_keys row
  // records a key taking over the log (the chain heads at that point) and is signed by that key.
  `ALTER TABLE sessions ADD COLUMN seal_signature TEXT`,
  `ALTER TABLE login_attempts ADD COLUMN signature TEXT`,
  `ALTER TABLE log_origins ADD COLUMN signature TEXT`,
  `ALTER TABLE prune_checkpoints ADD COLUMN removed_sessions INTEGER`,
  `ALTER TABLE prune_checkpoints ADD COLUMN removed_events INTEGER`,
  `ALTER TABLE prune_checkpoints ADD COLUMN removed_logins INTEGER`,
  `ALTER TABLE prune_checkpoints ADD COLUMN public_key TEXT`,
  `ALTER TABLE prune_checkpoints ADD COLUMN signature TEXT`,
  `CREATE TABLE log_keys (
     id INTEGER PRIMARY KEY,
     at_us INTEGER NOT NULL,
     node_id TEXT,
     public_key TEXT NOT NULL,
     from_seal_seq INTEGER NOT NULL,
     from_seal_hash TEXT NOT NULL,
     from_login_seq INTEGER NOT NULL,
     from_login_hash TEXT NOT NULL,
     signature TEXT NOT NULL
   )`,
  // Version 17: what a replaced database's origin knows of the one it replaced — its log id, and
  // who noticed (the process it went under, the journal it left, or the central store).
  `ALTER TABLE log_origins ADD COLUMN previous_log_id TEXT`,
  `ALTER TABLE log_origins ADD COLUMN noticed_by TEXT`,
  // Version 28: what left the database — result rows the session's client received and rows its
  // statements wrote (null for sessions sealed before, or lost with their gateway).
  `ALTER TABLE sessions ADD COLUMN rows_returned INTEGER`,
  `ALTER TABLE sessions ADD COLUMN rows_affected INTEGER`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_us INTEGER NOT NULL)');
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  if (current > MIGRATIONS.length) {
    throw new AuditError(
      'audit-schema-newer',
      `audit database schema version ${current} is newer than this idgate understands (${MIGRATIONS.length})`,
    );
  }
  const apply = db.transaction(() => {
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] ?? '');
      db.prepare('INSERT INTO schema_migrations (version, applied_at_us) VALUES (?, ?)').run(v + 1, Date.now() * 1000);
    }
  });
  apply();
}
