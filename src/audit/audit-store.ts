import { randomUUID } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import type { LoginAttempt, PendingSegment, SessionEnd, SessionHeader, WriterBatch } from './audit-event.js';
import {
  GENESIS,
  keyHash,
  loginHash,
  originHash,
  sealHash,
  sessionHeadHash,
  type OriginFields,
  type SessionHeadFields,
} from './audit-hash.js';
import type { NodeKey } from '../signing/node-key.js';
import { migrate } from './audit-schema.js';
import { segmentEvents, type SegmentRow } from './audit-reader.js';
import { hashBytes, sealSegment } from './event-segment.js';
import { AuditError } from './audit-error.js';

/** The end reason of a session a dead process left open (EndReason 'gateway-lost'). */
const LOST = 'gateway-lost';

interface OpenSession {
  eventCount: number;
  lastHash: string;
  statements: number;
  errors: number;
  readonly headHash: string;
}

/** Where the seal and login chains stand: what the next session seal and login attempt chain from. */
export interface ChainHeads {
  sealSeq: number;
  sealHash: string;
  loginSeq: number;
  loginHash: string;
}
type Tips = ChainHeads;

/**
 * The database a new one replaces, as far as it is known: its log id and its chain heads (the new
 * chains continue from them), and who noticed — this process (the file went under it), the old
 * journal left beside the path, or the central store (the node's newest log there).
 */
export interface Predecessor {
  readonly logId: string | undefined;
  readonly heads: ChainHeads | undefined;
  readonly noticedBy: 'running-process' | 'journal' | 'central-store';
}

/** Where a database stands with its write-ahead journal: the journal's id and the last record applied. */
export interface JournalPosition {
  readonly logId: string;
  readonly appliedSeq: number;
}

export interface AuditStoreOptions {
  /** The fleet node this writer belongs to: stamped on every session and login attempt it writes. */
  readonly nodeId?: string | null;
  /** A database this new one replaces (removed or replaced under the gateway): its origin names it. */
  readonly replaces?: Predecessor;
  /** The replaced database's journal position, which the new one takes over (only when replaced under this process). */
  readonly continuesJournal?: JournalPosition;
  readonly sync?: 'normal' | 'full';
  /** A central store is configured: every row written is also listed in `ship_outbox` for the shipper. */
  readonly ship?: boolean;
  /** The node's key: seals, login attempts and the origin are signed with it (unsigned without one). */
  readonly key?: NodeKey;
}

/** Opens (creating if needed) an audit database in WAL mode and brings its schema up to date. */
export function openAuditDatabase(path: string, readonly = false, sync: 'normal' | 'full' = 'normal'): Db {
  if (!readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly, fileMustExist: readonly });
  db.pragma('busy_timeout = 1000');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    // NORMAL: a commit is written to the WAL file before it returns, which survives the process
    // being killed; FULL also waits for the disk (fsync), which survives a power loss.
    db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
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
  private readonly insertSegment: Statement;
  private readonly updateProgress: Statement;
  private readonly sealSession: Statement;
  private readonly insertLogin: Statement;
  private readonly setApplied: Statement;
  private readonly outbox: Statement | undefined;
  private readonly selectUnsealed: Statement;
  private journal: JournalPosition;
  private readonly nodeId: string | null;
  private readonly key: NodeKey | undefined;
  /** Events for sessions this database does not hold (it was replaced while they ran). */
  orphanedEvents = 0;
  /** Sessions a process that died had left open, sealed here as `gateway-lost`. */
  lostSessions = 0;

  private readonly db: Db;

  /**
   * Opens the database at `path` (creating it if needed). A new database begins with a record of
   * its origin: `created` (nothing before it is known), or, given `replaces`, `replaced`, naming
   * what it replaces, and its chains continue from that one's heads when they are known.
   */
  constructor(
    private readonly path: string,
    options: AuditStoreOptions = {},
  ) {
    this.nodeId = options.nodeId ?? null;
    this.key = options.key;
    this.db = openAuditDatabase(path, false, options.sync ?? 'normal');
    const db = this.db;
    this.fileId = fileIdentity(path);
    this.insertSession = db.prepare(
      `INSERT INTO sessions (id, protocol, started_at_us, identity_oid, app_id, tenant_id, display_name, client_user, mapping, connection, scope,
         record_mode, client_address, client_tls, upstream, node_id, head_hash, last_event_hash)
       VALUES (@id, @protocol, @started_at_us, @identity_oid, @app_id, @tenant_id, @display_name, @client_user, @mapping, @connection, @scope,
         @record_mode, @client_address, @client_tls, @upstream, @node_id, @head_hash, @head_hash)`,
    );
    this.insertSegment = db.prepare('INSERT INTO event_segments (session_id, first_seq, last_seq, lines) VALUES (?, ?, ?, ?)');
    this.updateProgress = db.prepare('UPDATE sessions SET event_count = ?, last_event_hash = ?, statements = ?, errors = ? WHERE id = ?');
    this.sealSession = db.prepare(
      `UPDATE sessions SET ended_at_us = @ended_at_us, end_reason = @end_reason, bytes_from_client = @bytes_from_client,
         bytes_to_client = @bytes_to_client, rows_returned = @rows_returned, rows_affected = @rows_affected, seal_seq = @seal_seq, seal_hash = @seal_hash, seal_signature = @seal_signature WHERE id = @id`,
    );
    this.insertLogin = db.prepare(
      `INSERT INTO login_attempts (seq, at_us, accepted, reason, message, session_id, identity_oid, app_id, connection, client_user, client_address, node_id, hash, signature)
       VALUES (@seq, @at_us, @accepted, @reason, @message, @session_id, @identity_oid, @app_id, @connection, @client_user, @client_address, @node_id, @hash, @signature)`,
    );
    this.setApplied = db.prepare('UPDATE write_ahead SET applied_seq = ? WHERE id = 1');
    this.selectUnsealed = db.prepare(
      'SELECT event_count, last_event_hash, head_hash, statements, errors FROM sessions WHERE id = ? AND seal_seq IS NULL',
    );
    this.outbox = options.ship === true ? db.prepare('INSERT INTO ship_outbox (kind, session_id, item) VALUES (?, ?, ?)') : undefined;
    this.tips = this.readTips();
    const atUs = Date.now() * 1000;
    this.db.transaction(() => {
      const isNew = this.isNew();
      if (isNew && options.replaces?.heads !== undefined) this.tips = { ...options.replaces.heads };
      // The key takes the log over first, so a new database's origin is signed with it.
      this.adoptKey(atUs);
      if (isNew) this.begin(atUs, options.replaces);
    })();
    this.journal = this.readJournalPosition(options.continuesJournal);
  }

  /** The write-ahead journal this database is applied from, and how far. */
  get journalPosition(): JournalPosition {
    return this.journal;
  }

  private readJournalPosition(continues: JournalPosition | undefined): JournalPosition {
    const row = this.db.prepare('SELECT log_id, applied_seq FROM write_ahead WHERE id = 1').get() as
      { log_id: string; applied_seq: number } | undefined;
    if (row !== undefined) return { logId: row.log_id, appliedSeq: row.applied_seq };
    const fresh = continues ?? { logId: randomUUID(), appliedSeq: 0 };
    this.db.prepare('INSERT INTO write_ahead (id, log_id, applied_seq) VALUES (1, ?, ?)').run(fresh.logId, fresh.appliedSeq);
    return fresh;
  }

  /** The chains' current heads (carried into the database that replaces this one). */
  get heads(): ChainHeads {
    return { ...this.tips };
  }

  private isNew(): boolean {
    const count = (table: string): number => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return count('sessions') + count('login_attempts') + count('prune_checkpoints') + count('log_origins') === 0;
  }

  private begin(atUs: number, replaces: Predecessor | undefined): void {
    const heads = replaces?.heads;
    const origin: OriginFields = {
      at_us: atUs,
      node_id: this.nodeId,
      kind: replaces === undefined ? 'created' : 'replaced',
      previous_seal_seq: heads?.sealSeq ?? null,
      previous_seal_hash: heads?.sealHash ?? null,
      previous_login_seq: heads?.loginSeq ?? null,
      previous_login_hash: heads?.loginHash ?? null,
      previous_log_id: replaces?.logId ?? null,
      noticed_by: replaces?.noticedBy ?? null,
    };
    this.db
      .prepare(
        `INSERT INTO log_origins (at_us, node_id, kind, previous_seal_seq, previous_seal_hash, previous_login_seq, previous_login_hash,
           previous_log_id, noticed_by, signature)
         VALUES (@at_us, @node_id, @kind, @previous_seal_seq, @previous_seal_hash, @previous_login_seq, @previous_login_hash,
           @previous_log_id, @noticed_by, @signature)`,
      )
      .run({ ...origin, signature: this.key?.sign('origin', originHash(origin)) ?? null });
    // A new log reaches the central store at once, even before its first session: a replacement is known there too.
    this.outbox?.run('origin', null, null);
  }

  /**
   * A key this log has not been signed with yet (the first, or a new one after a rotation) takes
   * it over where its chains stand: a log_keys row, signed with the key, from which on every seal
   * and login attempt carries a signature. What came before stays as it was (unsigned, or signed
   * by the previous key), and the row vouches for those heads.
   */
  private adoptKey(atUs: number): void {
    if (this.key === undefined) return;
    const current = this.db.prepare('SELECT public_key FROM log_keys ORDER BY id DESC LIMIT 1').get() as { public_key: string } | undefined;
    if (current?.public_key === this.key.publicKey) return;
    const fields = {
      at_us: atUs,
      node_id: this.nodeId,
      public_key: this.key.publicKey,
      from_seal_seq: this.tips.sealSeq,
      from_seal_hash: this.tips.sealHash,
      from_login_seq: this.tips.loginSeq,
      from_login_hash: this.tips.loginHash,
    };
    this.db
      .prepare(
        `INSERT INTO log_keys (at_us, node_id, public_key, from_seal_seq, from_seal_hash, from_login_seq, from_login_hash, signature)
         VALUES (@at_us, @node_id, @public_key, @from_seal_seq, @from_seal_hash, @from_login_seq, @from_login_hash, @signature)`,
      )
      .run({ ...fields, signature: this.key.sign('key', keyHash(fields)) });
  }

  /** Throws when the file at the path is no longer the one we write (removed or replaced). */
  checkFile(): void {
    let current: string | undefined;
    try {
      current = fileIdentity(this.path);
    } catch {
      current = undefined;
    }
    if (current !== this.fileId) throw new AuditError('audit-replaced', 'the audit database file was removed or replaced');
  }

  apply(batch: WriterBatch): void {
    const tips = { ...this.tips };
    const touched = new Map<string, OpenSession>();
    const session = (id: string): OpenSession | undefined => {
      const known = touched.get(id) ?? this.open.get(id) ?? this.unsealed(id);
      if (known === undefined) return undefined;
      if (!touched.has(id)) touched.set(id, { ...known });
      return touched.get(id);
    };
    this.db.transaction(() => {
      if (batch.sealLeftOpen === true) this.lostSessions += this.sealLeftOpen(tips);
      for (const header of batch.starts) touched.set(header.id, this.start(header));
      for (const segment of batch.events) {
        const s = session(segment.sessionId);
        if (s === undefined) this.orphanedEvents += segment.count;
        else this.append(segment, s);
      }
      for (const { sessionId, end } of batch.ends) {
        const s = session(sessionId);
        if (s !== undefined) this.seal(sessionId, s, end, tips);
      }
      for (const attempt of batch.logins) this.login(attempt, tips);
      for (const [id, s] of touched) {
        this.updateProgress.run(s.eventCount, s.lastHash, s.statements, s.errors, id);
        this.outbox?.run('progress', id, null);
      }
      if (batch.journalSeq !== undefined) this.setApplied.run(batch.journalSeq);
    })();
    if (batch.journalSeq !== undefined) this.journal = { logId: this.journal.logId, appliedSeq: batch.journalSeq };
    for (const [id, s] of touched) this.open.set(id, s);
    for (const { sessionId } of batch.ends) this.open.delete(sessionId);
    this.tips = tips;
  }

  close(): void {
    this.db.close();
  }

  /**
   * After recovery: the sessions the journal carried belong to a dead process, not this one, so the
   * next batch's `sealLeftOpen` seals them (kept in memory across the journal's records until now).
   */
  forgetRecoveredSessions(): void {
    this.open.clear();
  }

  /**
   * A session this process did not start but the database holds unsealed: one a process that died
   * left open, whose events the write-ahead journal still carries (recovery).
   */
  private unsealed(id: string): OpenSession | undefined {
    const row = this.selectUnsealed.get(id) as
      { event_count: number; last_event_hash: string; head_hash: string; statements: number; errors: number } | undefined;
    if (row === undefined) return undefined;
    return {
      eventCount: row.event_count,
      lastHash: row.last_event_hash,
      statements: row.statements,
      errors: row.errors,
      headHash: row.head_hash,
    };
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
      mapping: h.mapping.entry,
      connection: h.mapping.connection,
      scope: h.mapping.scope,
      record_mode: String(h.mapping.record),
      client_address: h.clientAddress,
      client_tls: h.clientTls ? 1 : 0,
      upstream: h.upstream,
      node_id: this.nodeId,
    };
    const headHash = sessionHeadHash(fields);
    this.insertSession.run({ ...fields, head_hash: headHash });
    this.outbox?.run('session', h.id, null);
    return { eventCount: 0, lastHash: headHash, statements: 0, errors: 0, headHash };
  }

  /** Chains each event to the one before and stores them all as one segment (one BLOB). */
  private append(segment: PendingSegment, s: OpenSession): void {
    if (segment.count === 0) return;
    const bytes = Buffer.from(segment.buffer, 0, segment.length);
    const totals = sealSegment(bytes, hashBytes(s.lastHash));
    const firstSeq = s.eventCount + 1;
    s.eventCount += segment.count;
    s.lastHash = totals.tip.toString('base64');
    s.statements += totals.statements;
    s.errors += totals.errors;
    this.insertSegment.run(segment.sessionId, firstSeq, s.eventCount, bytes);
    this.outbox?.run('segment', segment.sessionId, firstSeq);
  }

  private seal(id: string, s: OpenSession, end: SessionEnd, tips: Tips): void {
    const fields = {
      id,
      seal_seq: tips.sealSeq + 1,
      ended_at_us: end.endedAtUs,
      end_reason: end.reason,
      bytes_from_client: end.bytesFromClient,
      bytes_to_client: end.bytesToClient,
      rows_returned: end.rowsReturned ?? null,
      rows_affected: end.rowsAffected ?? null,
      statements: s.statements,
      errors: s.errors,
      event_count: s.eventCount,
      head_hash: s.headHash,
      last_event_hash: s.lastHash,
    };
    const hash = sealHash(tips.sealHash, fields);
    this.sealSession.run({ ...fields, seal_hash: hash, seal_signature: this.key?.sign('seal', hash) ?? null });
    this.outbox?.run('seal', id, null);
    tips.sealSeq = fields.seal_seq;
    tips.sealHash = hash;
  }

  /**
   * Seals every unsealed session not open in this process, ended at its last event (or its start)
   * with `gateway-lost`: its process died, and a session that is never sealed stays "open" in the
   * log forever. Byte counts of such a session are not known and are stored as 0.
   */
  private sealLeftOpen(tips: Tips): number {
    const rows = this.db
      .prepare(
        'SELECT id, started_at_us, event_count, last_event_hash, head_hash, statements, errors FROM sessions WHERE seal_seq IS NULL ORDER BY started_at_us',
      )
      .all() as {
      id: string;
      started_at_us: number;
      event_count: number;
      last_event_hash: string;
      head_hash: string;
      statements: number;
      errors: number;
    }[];
    const lastSegment = this.db.prepare(
      'SELECT session_id, first_seq, last_seq, lines FROM event_segments WHERE session_id = ? ORDER BY first_seq DESC LIMIT 1',
    );
    let sealed = 0;
    for (const row of rows) {
      if (this.open.has(row.id)) continue;
      const segment = lastSegment.get(row.id) as SegmentRow | undefined;
      let endedAtUs = row.started_at_us;
      if (segment !== undefined) for (const event of segmentEvents(segment)) endedAtUs = Math.max(endedAtUs, event.at_us);
      const s: OpenSession = {
        eventCount: row.event_count,
        lastHash: row.last_event_hash,
        statements: row.statements,
        errors: row.errors,
        headHash: row.head_hash,
      };
      this.seal(row.id, s, { endedAtUs, reason: LOST, bytesFromClient: 0, bytesToClient: 0 }, tips);
      sealed += 1;
    }
    return sealed;
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
      node_id: this.nodeId,
    };
    const hash = loginHash(tips.loginHash, fields);
    this.insertLogin.run({ ...fields, hash, signature: this.key?.sign('login', hash) ?? null });
    this.outbox?.run('login', null, fields.seq);
    tips.loginSeq = fields.seq;
    tips.loginHash = hash;
  }

  private readTips(): Tips {
    const seal = this.db
      .prepare('SELECT seal_seq, seal_hash FROM sessions WHERE seal_seq IS NOT NULL ORDER BY seal_seq DESC LIMIT 1')
      .get() as { seal_seq: number; seal_hash: string } | undefined;
    const login = this.db.prepare('SELECT seq, hash FROM login_attempts ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    const checkpoint = chainStart(this.db);
    return {
      sealSeq: seal?.seal_seq ?? checkpoint?.last_seal_seq ?? 0,
      sealHash: seal?.seal_hash ?? checkpoint?.last_seal_hash ?? GENESIS,
      loginSeq: login?.seq ?? checkpoint?.last_login_seq ?? 0,
      loginHash: login?.hash ?? checkpoint?.last_login_hash ?? GENESIS,
    };
  }
}

/**
 * Where the chains of what the database still holds begin: the newest prune checkpoint, else the
 * heads its origin continues from (a replaced database), else nothing (genesis).
 */
export function chainStart(
  db: Db,
):
  | { last_seal_seq: number | null; last_seal_hash: string | null; last_login_seq: number | null; last_login_hash: string | null }
  | undefined {
  const checkpoint = db
    .prepare('SELECT last_seal_seq, last_seal_hash, last_login_seq, last_login_hash FROM prune_checkpoints ORDER BY id DESC LIMIT 1')
    .get() as
    | { last_seal_seq: number | null; last_seal_hash: string | null; last_login_seq: number | null; last_login_hash: string | null }
    | undefined;
  if (checkpoint !== undefined || !hasTable(db, 'log_origins')) return checkpoint;
  return db
    .prepare(
      `SELECT previous_seal_seq AS last_seal_seq, previous_seal_hash AS last_seal_hash, previous_login_seq AS last_login_seq, previous_login_hash AS last_login_hash
       FROM log_origins WHERE kind = 'replaced' ORDER BY id LIMIT 1`,
    )
    .get() as
    | { last_seal_seq: number | null; last_seal_hash: string | null; last_login_seq: number | null; last_login_hash: string | null }
    | undefined;
}

/** Readers open databases as they are, unmigrated: a table of a newer schema may be missing. */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function fileIdentity(path: string): string {
  const s = statSync(path);
  return `${s.dev}:${s.ino}`;
}
