import type { Database } from 'better-sqlite3';
import { segmentEvents, type EventRow, type LoginRow, type SegmentRow, type SessionRow } from './audit-reader.js';
import { GENESIS, loginHash, sealHash, sessionHeadHash } from './audit-hash.js';
import { chainStart, hasTable } from './audit-store.js';
import { TrustList } from './trust-list.js';
import type { Anchor } from './anchor-record.js';
import type { ChainHeads } from './audit-store.js';
import { checkAnchors, headsOf, type ChainPositions } from './verify-anchors.js';
import type { Finding, TamperKind } from './verify-finding.js';

export type { Finding, TamperKind } from './verify-finding.js';
import { verifySignatures, type SigningReport } from './verify-signatures.js';

/** How the database began (databases from before schema 13 do not say). */
export interface LogOrigin {
  readonly kind: 'created' | 'replaced';
  readonly atUs: number;
  readonly nodeId: string | null;
  /** For a replaced database: the seal chain head of the one before, which this one continues (null when not known). */
  readonly previousSealHash: string | null;
  /** For a replaced database: its log id, when known. */
  readonly previousLogId: string | null;
  /** Who noticed the replacement: running-process, journal, central-store (null before schema 17). */
  readonly noticedBy: string | null;
}

export interface VerifyReport {
  readonly findings: Finding[];
  readonly sessions: number;
  readonly events: number;
  readonly logins: number;
  /** Sessions the gateway had not ended (still open, or the gateway stopped abruptly). */
  readonly unsealed: string[];
  /** The newest seal hash: anchor it elsewhere (a SIEM) to detect a rewrite of the whole file. */
  readonly head: string;
  readonly origin: LogOrigin | undefined;
  /** Who signed the log, what predates its key, and the prunes it records. */
  readonly signing: SigningReport;
  /** Where both chains end: what an anchor of this log records. */
  readonly heads: ChainHeads;
}

export interface VerifyOptions {
  /** Anchors taken of this log (`idgate anchor`): its chains must still reach them. */
  readonly anchors?: readonly Anchor[];
  /**
   * The database is a node's log copied from the central store: its prune checkpoints are the
   * owner's (the gateways' role cannot write them there), so they carry no node signature.
   */
  readonly centralCopy?: boolean;
}

interface Checkpoint {
  readonly last_seal_seq: number | null;
  readonly last_seal_hash: string | null;
  readonly last_login_seq: number | null;
  readonly last_login_hash: string | null;
}

/**
 * Recomputes every chain in the audit database: each session's events from its header, the
 * sessions in the order they ended, and the login attempts. Pruning leaves a checkpoint, so the
 * chains verify from where it cut.
 */
export function verifyAudit(db: Database, trust: TrustList = new TrustList(), options: VerifyOptions = {}): VerifyReport {
  const findings: Finding[] = [];
  const checkpoint: Checkpoint | undefined = chainStart(db);
  const origin = readOrigin(db);
  if (origin?.kind === 'replaced') {
    findings.push({
      kind: 'discontinuity',
      where: 'log origin',
      detail: replacedDetail(origin),
    });
  }
  const sessions = db.prepare('SELECT * FROM sessions ORDER BY started_at_us, id').all() as SessionRow[];
  let events = 0;
  const unsealed: string[] = [];
  for (const s of sessions) {
    events += verifySessionEvents(db, s, findings);
    if (s.seal_seq === null) unsealed.push(s.id);
  }
  const head = verifySeals(sessions, checkpoint, findings);
  const logins = db.prepare('SELECT * FROM login_attempts ORDER BY seq').all() as LoginRow[];
  verifyLogins(logins, checkpoint, findings);
  verifyLoginsHaveSessions(sessions, logins, db, findings);
  const sealed = sessions.filter((s) => s.seal_seq !== null).sort((a, b) => (a.seal_seq ?? 0) - (b.seal_seq ?? 0));
  const start = {
    sealSeq: checkpoint?.last_seal_seq ?? 0,
    sealHash: checkpoint?.last_seal_hash ?? GENESIS,
    loginSeq: checkpoint?.last_login_seq ?? 0,
    loginHash: checkpoint?.last_login_hash ?? GENESIS,
  };
  const sealChain = positions(
    sealed.map((x) => [x.seal_seq ?? 0, x.seal_hash ?? ''] as const),
    start.sealSeq,
    start.sealHash,
  );
  const loginChain = positions(
    logins.map((l) => [l.seq, l.hash] as const),
    start.loginSeq,
    start.loginHash,
  );
  checkAnchors(options.anchors ?? [], sealChain, loginChain, findings, nodeOf(origin === undefined ? {} : { node_id: origin.nodeId }));
  const signing = verifySignatures({ db, sealed, logins, start, trust, ownerCheckpoints: options.centralCopy === true }, findings);
  return {
    findings,
    sessions: sessions.length,
    events,
    logins: logins.length,
    unsealed,
    head,
    origin,
    signing,
    heads: headsOf(sealChain, loginChain),
  };
}

function readOrigin(db: Database): LogOrigin | undefined {
  if (!hasTable(db, 'log_origins')) return undefined;
  // SELECT *: a database read unmigrated may lack the newer columns.
  const row = db.prepare('SELECT * FROM log_origins ORDER BY id LIMIT 1').get() as
    | {
        at_us: number;
        node_id: string | null;
        kind: string;
        previous_seal_hash: string | null;
        previous_log_id?: string | null;
        noticed_by?: string | null;
      }
    | undefined;
  if (row === undefined) return undefined;
  return {
    kind: row.kind === 'replaced' ? 'replaced' : 'created',
    atUs: row.at_us,
    nodeId: row.node_id,
    previousSealHash: row.previous_seal_hash,
    previousLogId: row.previous_log_id ?? null,
    noticedBy: row.noticed_by ?? null,
  };
}

const NOTICED: Readonly<Record<string, string>> = {
  'running-process': 'the gateway it went under noticed',
  journal: 'the journal it left named it',
  'central-store': 'the central store holds it',
};

/** What a replaced origin says happened, for its discontinuity finding. */
function replacedDetail(origin: LogOrigin): string {
  const when = new Date(origin.atUs / 1000).toISOString();
  const by = origin.nodeId === null ? '' : ` by node ${origin.nodeId}`;
  const which =
    origin.previousLogId === null ? 'one removed or replaced under the gateway' : `log ${origin.previousLogId}, removed or replaced`;
  const how = origin.noticedBy === null ? '' : ` (${NOTICED[origin.noticedBy] ?? origin.noticedBy})`;
  const continues =
    origin.previousSealHash === null
      ? "its chain heads are not known, so this one's chains begin anew"
      : `it continues that one's chains from seal hash ${origin.previousSealHash}`;
  return `this database was begun ${when}${by} in place of ${which}${how}; ${continues}, and what that one held is not here`;
}

function verifySessionEvents(db: Database, s: SessionRow, findings: Finding[]): number {
  const head = sessionHeadHash(s);
  if (head !== s.head_hash) {
    findings.push({ kind: 'edited', where: `session ${s.id}`, detail: 'its header does not match its hash', ...nodeOf(s) });
  }
  let previous = s.head_hash;
  let expected = 1;
  let count = 0;
  for (const e of sessionEvents(db, s.id)) {
    count += 1;
    if (e.seq > expected) {
      findings.push({
        kind: 'deleted',
        where: `event ${s.id}#${expected}`,
        detail: `events ${expected}–${e.seq - 1} are missing`,
        ...nodeOf(s),
      });
    } else if (e.seq > s.event_count && s.seal_seq !== null) {
      findings.push(beyondSeal(s, e.seq));
    }
    if (e.chainHash(previous, e.seq) !== e.hash) {
      findings.push({
        kind: editedOrMoved(db, s, e),
        where: `event ${s.id}#${e.seq}`,
        detail: `${e.kind} does not match its chain hash`,
        ...nodeOf(s),
      });
    }
    previous = e.hash;
    expected = e.seq + 1;
  }
  if (s.seal_seq !== null && count < s.event_count) {
    findings.push({
      kind: 'deleted',
      where: `event ${s.id}#${count + 1}`,
      detail: `the session was sealed with ${s.event_count} events, ${count} remain`,
      ...nodeOf(s),
    });
  }
  if (s.seal_seq !== null && previous !== s.last_event_hash) {
    findings.push({ kind: 'edited', where: `session ${s.id}`, detail: 'its last event is not the one it was sealed with', ...nodeOf(s) });
  }
  return count;
}

/**
 * An event past the count a session was sealed with. A session sealed at a restart (its gateway
 * had died) whose later events are held elsewhere — a central store received them before the
 * crash — had its tail cut before the restart sealed it; otherwise the event was added.
 */
function beyondSeal(s: SessionRow, seq: number): Finding {
  if (s.end_reason === 'gateway-lost') {
    return {
      kind: 'deleted',
      where: `event ${s.id}#${seq}`,
      detail: `the session was sealed at a restart with ${s.event_count} events, but event ${seq} had been recorded: its tail was cut before the restart sealed it`,
      ...nodeOf(s),
    };
  }
  return { kind: 'inserted', where: `event ${s.id}#${seq}`, detail: `the session was sealed with ${s.event_count} events`, ...nodeOf(s) };
}

/**
 * An event whose hash does not follow from its predecessor was edited in place, or moved: it was
 * moved (reordered) when its content still matches its hash at some other position of the chain.
 */
function editedOrMoved(db: Database, s: SessionRow, e: EventRow): TamperKind {
  const predecessors = new Map<number, string>([[0, s.head_hash]]);
  for (const other of sessionEvents(db, s.id)) if (other.seq !== e.seq) predecessors.set(other.seq, other.hash);
  for (const [seq, previous] of predecessors) {
    if (e.chainHash(previous, seq + 1) === e.hash) return 'reordered';
  }
  return 'edited';
}

function* sessionEvents(db: Database, sessionId: string): Generator<EventRow> {
  const segments = db.prepare('SELECT * FROM event_segments WHERE session_id = ? ORDER BY first_seq').all(sessionId) as SegmentRow[];
  for (const segment of segments) yield* segmentEvents(segment);
}

function verifySeals(sessions: readonly SessionRow[], checkpoint: Checkpoint | undefined, findings: Finding[]): string {
  const sealed = sessions.filter((s) => s.seal_seq !== null).sort((a, b) => (a.seal_seq ?? 0) - (b.seal_seq ?? 0));
  let previous = checkpoint?.last_seal_hash ?? GENESIS;
  let expected = (checkpoint?.last_seal_seq ?? 0) + 1;
  for (const s of sealed) {
    const seq = s.seal_seq ?? 0;
    if (seq > expected) {
      findings.push({
        kind: 'deleted',
        where: `session with seal ${expected}`,
        detail: `sessions sealed ${expected}–${seq - 1} are missing`,
      });
    }
    const hash = sealHash(previous, {
      id: s.id,
      seal_seq: seq,
      ended_at_us: s.ended_at_us ?? 0,
      end_reason: s.end_reason ?? '',
      bytes_from_client: s.bytes_from_client ?? 0,
      bytes_to_client: s.bytes_to_client ?? 0,
      rows_returned: s.rows_returned ?? null,
      rows_affected: s.rows_affected ?? null,
      statements: s.statements,
      errors: s.errors,
      event_count: s.event_count,
      head_hash: s.head_hash,
      last_event_hash: s.last_event_hash,
    });
    if (hash !== s.seal_hash) {
      findings.push({
        kind: seq < expected ? 'reordered' : 'edited',
        where: `session ${s.id}`,
        detail: 'its seal does not match (summary, end or order changed)',
        ...nodeOf(s),
      });
    }
    previous = s.seal_hash ?? '';
    expected = seq + 1;
  }
  return previous;
}

function verifyLogins(logins: readonly LoginRow[], checkpoint: Checkpoint | undefined, findings: Finding[]): void {
  let previous = checkpoint?.last_login_hash ?? GENESIS;
  let expected = (checkpoint?.last_login_seq ?? 0) + 1;
  for (const l of logins) {
    if (l.seq > expected) {
      findings.push({
        kind: 'deleted',
        where: `login attempt #${expected}`,
        detail: `login attempts ${expected}–${l.seq - 1} are missing`,
      });
    }
    if (loginHash(previous, l) !== l.hash) {
      findings.push({ kind: 'edited', where: `login attempt #${l.seq}`, detail: 'it does not match its chain hash', ...nodeOf(l) });
    }
    previous = l.hash;
    expected = l.seq + 1;
  }
}

/**
 * Every accepted login names the session it began; that session must be in the log, unless a prune
 * removed it (a login made before the newest prune's cut-off time).
 */
function verifyLoginsHaveSessions(sessions: readonly SessionRow[], logins: readonly LoginRow[], db: Database, findings: Finding[]): void {
  const ids = new Set(sessions.map((s) => s.id));
  const prunedBefore = hasTable(db, 'prune_checkpoints')
    ? ((db.prepare('SELECT max(older_than_us) AS t FROM prune_checkpoints').get() as { t: number | null }).t ?? 0)
    : 0;
  for (const l of logins) {
    if (l.accepted !== 1 || l.session_id === null || ids.has(l.session_id) || l.at_us < prunedBefore) continue;
    findings.push({
      kind: 'deleted',
      where: `session ${l.session_id}`,
      detail: `login attempt #${l.seq} began it, but the log does not hold it`,
      ...nodeOf(l),
    });
  }
}

function positions(rows: readonly (readonly [number, string])[], startSeq: number, startHash: string): ChainPositions {
  const hashAt = new Map<number, string>(rows);
  let lastSeq = startSeq;
  for (const [seq] of rows) lastSeq = Math.max(lastSeq, seq);
  return { hashAt, startSeq, startHash, lastSeq };
}

function nodeOf(row: { readonly node_id?: string | null }): { node?: string } {
  return row.node_id === null || row.node_id === undefined ? {} : { node: row.node_id };
}
