import type { Database } from 'better-sqlite3';
import type pg from 'pg';
import { KEY_COLUMNS, LOGIN_COLUMNS, ORIGIN_COLUMNS } from './central-columns.js';
import { CENTRAL_SCHEMA } from './central-schema.js';
import { AuditError } from '../audit-error.js';

/** One row of the local `ship_outbox`: something written that the central store has not confirmed. */
interface OutboxRow {
  readonly seq: number;
  readonly kind: 'origin' | 'session' | 'progress' | 'segment' | 'seal' | 'login';
  readonly session_id: string | null;
  readonly item: number | null;
}

type Row = Record<string, unknown>;

/** What one shipment carries, table by table, read from the local database. */
export interface Shipment {
  /** The last outbox row it covers: deleted locally once the central store committed the shipment. */
  readonly throughSeq: number;
  readonly outboxRows: number;
  readonly origins: Row[];
  readonly keys: Row[];
  readonly sessions: Row[];
  readonly progress: Row[];
  readonly segments: Row[];
  readonly seals: Row[];
  readonly logins: Row[];
}

const SESSION_COLUMNS = [
  'id',
  'log_id',
  'node_id',
  'protocol',
  'started_at_us',
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
  'head_hash',
];
const PROGRESS_COLUMNS = ['session_id', 'event_count', 'last_event_hash', 'statements', 'errors'];
const SEGMENT_COLUMNS = ['session_id', 'first_seq', 'last_seq', 'lines'];
const SEAL_COLUMNS = [
  'session_id',
  'log_id',
  'seal_seq',
  'ended_at_us',
  'end_reason',
  'bytes_from_client',
  'bytes_to_client',
  'rows_returned',
  'rows_affected',
  'statements',
  'errors',
  'event_count',
  'last_event_hash',
  'seal_hash',
  'seal_signature',
];

/** The local log's id (its write-ahead journal id), which names its chains in the central store. */
export function localLogId(db: Database): string {
  const row = db.prepare('SELECT log_id FROM write_ahead WHERE id = 1').get() as { log_id: string } | undefined;
  if (row === undefined) throw new AuditError('audit-no-log', 'the audit database has no log id yet');
  return row.log_id;
}

/** How many outbox rows wait (they are deleted in order, so the range is the count). */
export function outboxBacklog(db: Database): number {
  const row = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM ship_outbox').get() as { lo: number | null; hi: number | null };
  return row.lo === null || row.hi === null ? 0 : row.hi - row.lo + 1;
}

/**
 * Reads the next shipment: up to `limit` outbox rows, in order, and the rows they name as they
 * stand now (a session's progress as of now covers every earlier progress row). The log's origins
 * and key rows ride along every time: a handful of rows, and the central store keeps the first copy.
 */
export function readShipment(db: Database, logId: string, limit: number): Shipment | undefined {
  const outbox = db.prepare('SELECT seq, kind, session_id, item FROM ship_outbox ORDER BY seq LIMIT ?').all(limit) as OutboxRow[];
  const last = outbox[outbox.length - 1];
  if (last === undefined) return undefined;
  const session = db.prepare('SELECT * FROM sessions WHERE id = ?');
  const segment = db.prepare('SELECT session_id, first_seq, last_seq, lines FROM event_segments WHERE session_id = ? AND first_seq = ?');
  const login = db.prepare('SELECT * FROM login_attempts WHERE seq = ?');
  const shipment: Shipment = {
    throughSeq: last.seq,
    outboxRows: outbox.length,
    origins: [],
    keys: [],
    sessions: [],
    progress: [],
    segments: [],
    seals: [],
    logins: [],
  };
  const progressed = new Set<string>();
  for (const o of outbox) {
    if (o.kind === 'segment') {
      const row = segment.get(o.session_id, o.item) as Row | undefined;
      if (row !== undefined) {
        shipment.segments.push({ ...row, lines: Buffer.isBuffer(row['lines']) ? row['lines'] : Buffer.from(String(row['lines'])) });
      }
      continue;
    }
    if (o.kind === 'login') {
      const row = login.get(o.item) as Row | undefined;
      if (row !== undefined) shipment.logins.push({ ...row, log_id: logId });
      continue;
    }
    // An origin rides along with every shipment (below): its outbox row only makes one happen.
    if (o.kind === 'origin') continue;
    const row = session.get(o.session_id) as Row | undefined;
    if (row === undefined) continue; // pruned locally since (prune keeps what is unshipped, so only by hand)
    if (o.kind === 'session') shipment.sessions.push({ ...row, log_id: logId });
    else if (o.kind === 'progress' && !progressed.has(String(row['id']))) {
      progressed.add(String(row['id']));
      shipment.progress.push({ ...row, session_id: row['id'] });
    } else if (o.kind === 'seal' && row['seal_seq'] !== null) shipment.seals.push({ ...row, session_id: row['id'], log_id: logId });
  }
  const origins = db.prepare('SELECT * FROM log_origins').all() as Row[];
  shipment.origins.push(...origins.map((o) => ({ ...o, log_id: logId })));
  const keys = db.prepare('SELECT * FROM log_keys').all() as Row[];
  shipment.keys.push(...keys.map((k) => ({ ...k, log_id: logId })));
  return shipment;
}

/**
 * Inserts a shipment in one transaction; rows already there are kept as they are (a retry adds
 * nothing). Returns the conflicts: rows the central store already holds under the same key with
 * other content — a session, a seal or a login attempt someone else put at this log's position —
 * which are never overwritten, and must be reported (the local row stays the evidence).
 */
export async function insertShipment(client: pg.ClientBase, s: Shipment): Promise<string[]> {
  await client.query('BEGIN');
  try {
    await insertRows(client, 'log_origins', ORIGIN_COLUMNS, s.origins);
    await insertRows(client, 'log_keys', KEY_COLUMNS, s.keys);
    await insertRows(client, 'sessions', SESSION_COLUMNS, s.sessions);
    await insertRows(client, 'session_progress', PROGRESS_COLUMNS, s.progress);
    await insertRows(client, 'event_segments', SEGMENT_COLUMNS, s.segments);
    await insertRows(client, 'session_seals', SEAL_COLUMNS, s.seals);
    await insertRows(client, 'login_attempts', LOGIN_COLUMNS, s.logins);
    const conflicts = await findConflicts(client, s);
    await client.query('COMMIT');
    return conflicts;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** What the central store holds at the keys of the shipment's chain rows, where it differs from what was shipped. */
async function findConflicts(client: pg.ClientBase, s: Shipment): Promise<string[]> {
  const conflicts: string[] = [];
  const ids = s.sessions.map((r) => String(r['id']));
  if (ids.length > 0) {
    const heads = new Map(s.sessions.map((r) => [String(r['id']), r['head_hash']]));
    const held = await client.query<{ id: string; head_hash: string }>(
      `SELECT id, head_hash FROM ${CENTRAL_SCHEMA}.sessions WHERE id = ANY($1)`,
      [ids],
    );
    for (const r of held.rows) if (heads.get(r.id) !== r.head_hash) conflicts.push(`the central store holds another session ${r.id}`);
  }
  const logId = s.seals[0]?.['log_id'] ?? s.logins[0]?.['log_id'];
  if (s.seals.length > 0) {
    const shipped = new Map(s.seals.map((r) => [Number(r['seal_seq']), r]));
    const held = await client.query<{ session_id: string; seal_seq: string; seal_hash: string }>(
      `SELECT session_id, seal_seq, seal_hash FROM ${CENTRAL_SCHEMA}.session_seals WHERE (log_id = $1 AND seal_seq = ANY($2)) OR session_id = ANY($3)`,
      [logId, [...shipped.keys()], s.seals.map((r) => r['session_id'])],
    );
    for (const r of held.rows) {
      const mine = shipped.get(Number(r.seal_seq));
      if (mine === undefined || mine['session_id'] !== r.session_id || mine['seal_hash'] !== r.seal_hash) {
        conflicts.push(`the central store holds another row at this log's seal ${r.seal_seq} (session ${r.session_id})`);
      }
    }
  }
  if (s.logins.length > 0) {
    const shipped = new Map(s.logins.map((r) => [Number(r['seq']), r['hash']]));
    const held = await client.query<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM ${CENTRAL_SCHEMA}.login_attempts WHERE log_id = $1 AND seq = ANY($2)`,
      [logId, [...shipped.keys()]],
    );
    for (const r of held.rows) {
      if (shipped.get(Number(r.seq)) !== r.hash) conflicts.push(`the central store holds another login attempt #${r.seq} of this log`);
    }
  }
  return conflicts;
}

/** Bind parameters per statement, under PostgreSQL's limit of 65,535. */
const MAX_PARAMETERS = 30_000;

/** Multi-row INSERT … ON CONFLICT DO NOTHING, as few statements as the parameter limit allows. */
async function insertRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: readonly Row[]): Promise<void> {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const values: unknown[] = [];
    const tuples = chunk.map((row) => `(${columns.map((c) => `$${values.push(row[c] ?? null)}`).join(', ')})`);
    await client.query(
      `INSERT INTO ${CENTRAL_SCHEMA}.${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`,
      values,
    );
  }
}
