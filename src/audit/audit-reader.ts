import Database, { type Database as Db } from 'better-sqlite3';
import { eventHash } from './audit-hash.js';
import { hashBytes, readSegment, recordHash } from './event-segment.js';
import type { LoginRow, SessionRow } from './audit-rows.js';

export type { LoginRow, SessionRow };

export interface EventRow {
  readonly session_id: string;
  readonly seq: number;
  readonly at_us: number;
  readonly direction: string;
  readonly kind: string;
  /**
   * The event as stored: a protocol's raw frames byte for byte (kind `pg-frames`), or the gateway's
   * own event as UTF-8 JSON. Read from a binary segment, a view of it, not a copy.
   */
  readonly body: Buffer;
  readonly outcome: string | null;
  readonly hash: string;
  /** This event's chain hash computed afresh, given its predecessor's hash and its position (for verify). */
  readonly chainHash: (previous: string, seq: number) => string;
}

export interface SegmentRow {
  readonly session_id: string;
  readonly first_seq: number;
  readonly last_seq: number;
  /** A binary segment (event-segment.ts), or the text lines of databases written before schema 11. */
  readonly lines: Buffer | string;
}

/** The events of one stored segment, in order. */
export function* segmentEvents(segment: SegmentRow): Generator<EventRow> {
  if (typeof segment.lines !== 'string') {
    yield* binaryEvents(segment.session_id, segment.first_seq, segment.lines);
    return;
  }
  if (segment.lines === '') return;
  for (const line of segment.lines.split('\n')) yield parseEventLine(segment.session_id, line);
}

function* binaryEvents(sessionId: string, firstSeq: number, bytes: Buffer): Generator<EventRow> {
  const { records } = readSegment(bytes);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r === undefined) continue;
    yield {
      session_id: sessionId,
      seq: firstSeq + i,
      at_us: r.atUs,
      direction: r.direction,
      kind: r.kind,
      outcome: r.statements === 0 ? null : `${r.statements}:${r.errors}`,
      body: r.data,
      hash: r.hash.toString('base64'),
      chainHash: (previous) => recordHash(hashBytes(previous), r.hashed).toString('base64'),
    };
  }
}

/** The kind under which a protocol stores raw frames: the text form kept them as base64. */
const RAW_KIND = 'pg-frames';

/** seq \t hash \t at_us \t direction \t kind \t outcome \t data (the text form of schema ≤ 10) */
export function parseEventLine(sessionId: string, line: string): EventRow {
  const f: number[] = [];
  let p = -1;
  for (let i = 0; i < 6; i++) {
    p = line.indexOf('\t', p + 1);
    f.push(p === -1 ? line.length : p);
  }
  const field = (i: number): string => line.slice(i === 0 ? 0 : (f[i - 1] ?? 0) + 1, f[i]);
  const outcome = field(5);
  const hashed = line.slice((f[1] ?? line.length) + 1);
  const kind = field(4);
  const data = line.slice((f[5] ?? line.length) + 1);
  return {
    session_id: sessionId,
    seq: Number(field(0)),
    hash: field(1),
    at_us: Number(field(2)),
    direction: field(3),
    kind,
    outcome: outcome === '' ? null : outcome,
    body: Buffer.from(data, kind === RAW_KIND ? 'base64' : 'utf8'),
    chainHash: (previous, seq) => eventHash(previous, sessionId, seq, hashed),
  };
}

export interface SessionFilter {
  /** An object id, app id or display name: what Entra vouches for. */
  readonly identity?: string;
  /** The client's own startup `user` label, matched only when asked for by name. */
  readonly label?: string;
  readonly connection?: string;
  readonly node?: string;
  readonly sinceUs?: number;
  readonly untilUs?: number;
  /** An end reason, or 'open' for the sessions not ended (yet). */
  readonly endReason?: string;
  /** Only the most recent this many (still listed oldest first). */
  readonly newest?: number;
}

/** Reads an audit database for the DBA's commands. Never writes. */
export class AuditReader {
  readonly db: Db;

  constructor(path: string) {
    this.db = new Database(path, { fileMustExist: true });
    this.db.pragma('busy_timeout = 5000');
  }

  sessions(filter: SessionFilter = {}): SessionRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.identity !== undefined) {
      // Only what Entra vouches for: a client's own label would let any agent pass for another.
      where.push('(identity_oid = lower(@identity) OR app_id = lower(@identity) OR display_name = @identity)');
      params['identity'] = filter.identity;
    }
    if (filter.label !== undefined) {
      where.push('client_user = @label');
      params['label'] = filter.label;
    }
    if (filter.connection !== undefined) {
      where.push('connection = @connection');
      params['connection'] = filter.connection;
    }
    if (filter.node !== undefined) {
      where.push('node_id = @node');
      params['node'] = filter.node;
    }
    if (filter.sinceUs !== undefined) {
      where.push('started_at_us >= @since');
      params['since'] = filter.sinceUs;
    }
    if (filter.untilUs !== undefined) {
      where.push('started_at_us <= @until');
      params['until'] = filter.untilUs;
    }
    if (filter.endReason !== undefined) {
      where.push(filter.endReason === 'open' ? 'end_reason IS NULL' : 'end_reason = @endReason');
      params['endReason'] = filter.endReason;
    }
    const filtered = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    if (filter.newest === undefined) return this.db.prepare(`${filtered} ORDER BY started_at_us, id`).all(params) as SessionRow[];
    params['newest'] = filter.newest;
    const newest = `${filtered} ORDER BY started_at_us DESC, id DESC LIMIT @newest`;
    return this.db.prepare(`SELECT * FROM (${newest}) ORDER BY started_at_us, id`).all(params) as SessionRow[];
  }

  /** A session by its id or an unambiguous prefix of it. */
  session(idOrPrefix: string): SessionRow | undefined {
    const rows = this.db
      .prepare("SELECT * FROM sessions WHERE id = ? OR id LIKE ? || '%' LIMIT 2")
      .all(idOrPrefix, idOrPrefix) as SessionRow[];
    const exact = rows.find((r) => r.id === idOrPrefix);
    if (exact) return exact;
    return rows.length === 1 ? rows[0] : undefined;
  }

  *events(sessionId: string): Generator<EventRow> {
    const segments = this.db
      .prepare('SELECT * FROM event_segments WHERE session_id = ? ORDER BY first_seq')
      .iterate(sessionId) as IterableIterator<SegmentRow>;
    for (const segment of segments) yield* segmentEvents(segment);
  }

  logins(sinceUs = 0): LoginRow[] {
    return this.db.prepare('SELECT * FROM login_attempts WHERE at_us >= ? ORDER BY seq').all(sinceUs) as LoginRow[];
  }

  /** Whether the file is an idgate audit log (it has the sessions table); a file that is not SQLite at all throws. */
  holdsAuditLog(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get() !== undefined;
  }

  close(): void {
    this.db.close();
  }
}
