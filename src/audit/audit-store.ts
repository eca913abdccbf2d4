import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import type { AuditEvent, LoginAttempt, SessionEnd, SessionHeader, WriterCommand } from './audit-event.js';
import { eventHash, GENESIS, loginHash, sealHash, sessionHeadHash, type SessionHeadFields } from './audit-hash.js';
import { migrate } from './audit-schema.js';

interface OpenSession {
  eventCount: number;
  lastHash: string;
  statements: number;
  errors: number;
  readonly headHash: string;
}

interface Tips {
  sealSeq: number;
  sealHash: string;
  loginSeq: number;
  loginHash: string;
}

/** Opens (creating if needed) an audit database in WAL mode and brings its schema up to date. */
export function openAuditDatabase(path: string, readonly = false): Db {
  if (!readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 1000');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  }
  return db;
}

/**
 * The writing side of the audit database, used by the writer thread only. Applies a batch of
 * commands in one transaction and keeps the chain tips in memory; a batch that fails leaves both
 * the database and the tips as they were, so it can be retried whole.
 */
export class AuditStore {
  private readonly open = new Map<string, OpenSession>();
  private tips: Tips;
  private readonly fileId: string;
  private readonly insertSession: Statement;
  private readonly insertEvent: Statement;
  private readonly updateProgress: Statement;
  private readonly sealSession: Statement;
  private readonly insertLogin: Statement;
  /** Events for sessions this database does not hold (it was replaced while they ran). */
  orphanedEvents = 0;

  constructor(
    private readonly path: string,
    private readonly db: Db = openAuditDatabase(path),
  ) {
    this.fileId = fileIdentity(path);
    this.insertSession = db.prepare(
      `INSERT INTO sessions (id, protocol, started_at_us, identity_oid, app_id, tenant_id, display_name, client_user, mapping, connection, scope,
         record_mode, client_address, client_tls, upstream, head_hash, last_event_hash)
       VALUES (@id, @protocol, @started_at_us, @identity_oid, @app_id, @tenant_id, @display_name, @client_user, @mapping, @connection, @scope,
         @record_mode, @client_address, @client_tls, @upstream, @head_hash, @head_hash)`,
    );
    this.insertEvent = db.prepare('INSERT INTO events (session_id, seq, at_us, direction, kind, data, outcome, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.updateProgress = db.prepare('UPDATE sessions SET event_count = ?, last_event_hash = ?, statements = ?, errors = ? WHERE id = ?');
    this.sealSession = db.prepare(
      `UPDATE sessions SET ended_at_us = @ended_at_us, end_reason = @end_reason, bytes_from_client = @bytes_from_client,
         bytes_to_client = @bytes_to_client, seal_seq = @seal_seq, seal_hash = @seal_hash WHERE id = @id`,
    );
    this.insertLogin = db.prepare(
      `INSERT INTO login_attempts (seq, at_us, accepted, reason, message, session_id, identity_oid, app_id, connection, client_user, client_address, hash)
       VALUES (@seq, @at_us, @accepted, @reason, @message, @session_id, @identity_oid, @app_id, @connection, @client_user, @client_address, @hash)`,
    );
    this.tips = this.readTips();
  }

  /** Throws when the file at the path is no longer the one we write (removed or replaced). */
  checkFile(): void {
    let current: string | undefined;
    try {
      current = fileIdentity(this.path);
    } catch {
      current = undefined;
    }
    if (current !== this.fileId) throw new Error('the audit database file was removed or replaced');
  }

  apply(commands: readonly WriterCommand[]): void {
    const tips = { ...this.tips };
    const touched = new Map<string, OpenSession>();
    const session = (id: string): OpenSession | undefined => {
      const known = touched.get(id) ?? this.open.get(id);
      if (known === undefined) return undefined;
      if (!touched.has(id)) touched.set(id, { ...known });
      return touched.get(id);
    };
    const closed: string[] = [];
    this.db.transaction(() => {
      for (const c of commands) {
        switch (c.op) {
          case 'start':
            touched.set(c.header.id, this.start(c.header));
            break;
          case 'event': {
            const s = session(c.sessionId);
            if (s === undefined) this.orphanedEvents += 1;
            else this.append(c.sessionId, s, c.event);
            break;
          }
          case 'end': {
            const s = session(c.sessionId);
            if (s !== undefined) {
              this.seal(c.sessionId, s, c.end, tips);
              closed.push(c.sessionId);
            }
            break;
          }
          case 'login':
            this.login(c.attempt, tips);
            break;
        }
      }
      for (const [id, s] of touched) this.updateProgress.run(s.eventCount, s.lastHash, s.statements, s.errors, id);
    })();
    for (const [id, s] of touched) this.open.set(id, s);
    for (const id of closed) this.open.delete(id);
    this.tips = tips;
  }

  close(): void {
    this.db.close();
  }

  private start(h: SessionHeader): OpenSession {
    const fields: SessionHeadFields = {
      id: h.id,
      protocol: h.protocol,
      started_at_us: h.startedAtUs,
      identity_oid: h.identity.objectId,
      app_id: h.identity.appId,
      tenant_id: h.identity.tenantId,
      display_name: h.identity.displayName ?? null,
      client_user: h.clientUser,
      mapping: `${h.mapping.kind}:${h.mapping.value} (#${h.mapping.index})`,
      connection: h.mapping.connection,
      scope: h.mapping.scope,
      record_mode: String(h.mapping.record),
      client_address: h.clientAddress,
      client_tls: h.clientTls ? 1 : 0,
      upstream: h.upstream,
    };
    const headHash = sessionHeadHash(fields);
    this.insertSession.run({ ...fields, head_hash: headHash });
    return { eventCount: 0, lastHash: headHash, statements: 0, errors: 0, headHash };
  }

  private append(sessionId: string, s: OpenSession, e: AuditEvent): void {
    const seq = s.eventCount + 1;
    const data = JSON.stringify(e.data);
    const outcome = e.outcome ?? null;
    const hash = eventHash(s.lastHash, { session_id: sessionId, seq, at_us: e.atUs, direction: e.direction, kind: e.kind, data, outcome });
    this.insertEvent.run(sessionId, seq, e.atUs, e.direction, e.kind, data, outcome, hash);
    s.eventCount = seq;
    s.lastHash = hash;
    if (e.outcome !== undefined) s.statements += 1;
    if (e.outcome === 'error') s.errors += 1;
  }

  private seal(id: string, s: OpenSession, end: SessionEnd, tips: Tips): void {
    const fields = {
      id,
      seal_seq: tips.sealSeq + 1,
      ended_at_us: end.endedAtUs,
      end_reason: end.reason,
      bytes_from_client: end.bytesFromClient,
      bytes_to_client: end.bytesToClient,
      statements: s.statements,
      errors: s.errors,
      event_count: s.eventCount,
      head_hash: s.headHash,
      last_event_hash: s.lastHash,
    };
    const hash = sealHash(tips.sealHash, fields);
    this.sealSession.run({ ...fields, seal_hash: hash });
    tips.sealSeq = fields.seal_seq;
    tips.sealHash = hash;
  }

  private login(a: LoginAttempt, tips: Tips): void {
    const fields = {
      seq: tips.loginSeq + 1,
      at_us: a.atUs,
      accepted: a.accepted ? 1 : 0,
      reason: a.reason,
      message: a.message,
      session_id: a.sessionId ?? null,
      identity_oid: a.objectId ?? null,
      app_id: a.appId ?? null,
      connection: a.connection ?? null,
      client_user: a.clientUser ?? null,
      client_address: a.clientAddress,
    };
    const hash = loginHash(tips.loginHash, fields);
    this.insertLogin.run({ ...fields, hash });
    tips.loginSeq = fields.seq;
    tips.loginHash = hash;
  }

  private readTips(): Tips {
    const seal = this.db.prepare('SELECT seal_seq, seal_hash FROM sessions WHERE seal_seq IS NOT NULL ORDER BY seal_seq DESC LIMIT 1').get() as
      | { seal_seq: number; seal_hash: string }
      | undefined;
    const login = this.db.prepare('SELECT seq, hash FROM login_attempts ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const checkpoint = this.db.prepare('SELECT last_seal_seq, last_seal_hash, last_login_seq, last_login_hash FROM prune_checkpoints ORDER BY id DESC LIMIT 1').get() as
      | { last_seal_seq: number | null; last_seal_hash: string | null; last_login_seq: number | null; last_login_hash: string | null }
      | undefined;
    return {
      sealSeq: seal?.seal_seq ?? checkpoint?.last_seal_seq ?? 0,
      sealHash: seal?.seal_hash ?? checkpoint?.last_seal_hash ?? GENESIS,
      loginSeq: login?.seq ?? checkpoint?.last_login_seq ?? 0,
      loginHash: login?.hash ?? checkpoint?.last_login_hash ?? GENESIS,
    };
  }
}

function fileIdentity(path: string): string {
  const s = statSync(path);
  return `${s.dev}:${s.ino}`;
}
