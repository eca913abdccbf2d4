import Database, { type Database as Db } from 'better-sqlite3';

export interface SessionRow {
  readonly id: string;
  readonly protocol: string;
  readonly started_at_us: number;
  readonly ended_at_us: number | null;
  readonly end_reason: string | null;
  readonly identity_oid: string;
  readonly app_id: string;
  readonly tenant_id: string;
  readonly display_name: string | null;
  readonly client_user: string;
  readonly mapping: string;
  readonly connection: string;
  readonly scope: string;
  readonly record_mode: string;
  readonly client_address: string;
  readonly client_tls: number;
  readonly upstream: string;
  readonly bytes_from_client: number | null;
  readonly bytes_to_client: number | null;
  readonly statements: number;
  readonly errors: number;
  readonly event_count: number;
  readonly head_hash: string;
  readonly last_event_hash: string;
  readonly seal_seq: number | null;
  readonly seal_hash: string | null;
}

export interface EventRow {
  readonly session_id: string;
  readonly seq: number;
  readonly at_us: number;
  readonly direction: string;
  readonly kind: string;
  readonly data: string;
  readonly outcome: string | null;
  readonly hash: string;
}

export interface LoginRow {
  readonly seq: number;
  readonly at_us: number;
  readonly accepted: number;
  readonly reason: string;
  readonly message: string;
  readonly session_id: string | null;
  readonly identity_oid: string | null;
  readonly app_id: string | null;
  readonly connection: string | null;
  readonly client_user: string | null;
  readonly client_address: string;
  readonly hash: string;
}

export interface SessionFilter {
  /** An object id, app id, display name or client user label. */
  readonly identity?: string;
  readonly connection?: string;
  readonly sinceUs?: number;
  readonly untilUs?: number;
  readonly limit?: number;
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
      where.push('(identity_oid = @identity OR app_id = @identity OR display_name = @identity OR client_user = @identity)');
      params['identity'] = filter.identity.toLowerCase() === filter.identity ? filter.identity : filter.identity;
    }
    if (filter.connection !== undefined) {
      where.push('connection = @connection');
      params['connection'] = filter.connection;
    }
    if (filter.sinceUs !== undefined) {
      where.push('started_at_us >= @since');
      params['since'] = filter.sinceUs;
    }
    if (filter.untilUs !== undefined) {
      where.push('started_at_us <= @until');
      params['until'] = filter.untilUs;
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at_us, id LIMIT ${filter.limit ?? -1}`;
    return this.db.prepare(sql).all(params) as SessionRow[];
  }

  /** A session by its id or an unambiguous prefix of it. */
  session(idOrPrefix: string): SessionRow | undefined {
    const rows = this.db.prepare("SELECT * FROM sessions WHERE id = ? OR id LIKE ? || '%' LIMIT 2").all(idOrPrefix, idOrPrefix) as SessionRow[];
    const exact = rows.find((r) => r.id === idOrPrefix);
    if (exact) return exact;
    return rows.length === 1 ? rows[0] : undefined;
  }

  events(sessionId: string): IterableIterator<EventRow> {
    return this.db.prepare('SELECT * FROM events WHERE session_id = ? ORDER BY seq').iterate(sessionId) as IterableIterator<EventRow>;
  }

  logins(sinceUs = 0): LoginRow[] {
    return this.db.prepare('SELECT * FROM login_attempts WHERE at_us >= ? ORDER BY seq').all(sinceUs) as LoginRow[];
  }

  close(): void {
    this.db.close();
  }
}
