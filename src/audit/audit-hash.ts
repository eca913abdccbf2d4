import { hash } from 'node:crypto';
import type { LoginRow, SessionRow } from './audit-rows.js';

/**
 * The chain: every stored row carries a SHA-256 over the previous row's hash and its own fields,
 * so editing, inserting, deleting or reordering any row breaks every hash after it. These
 * functions are the single definition used both to write and to verify.
 */
export const GENESIS = '0'.repeat(64);

function digest(parts: readonly (string | number | null)[]): string {
  return hash('sha256', parts.map((p) => (p === null ? '\u0001' : String(p))).join('\u0000'), 'hex');
}

/** The header fields of a stored session: what its head hash covers. */
export type SessionHeadFields = Pick<
  SessionRow,
  | 'id'
  | 'protocol'
  | 'started_at_us'
  | 'identity_oid'
  | 'app_id'
  | 'tenant_id'
  | 'display_name'
  | 'client_user'
  | 'mapping'
  | 'connection'
  | 'scope'
  | 'record_mode'
  | 'client_address'
  | 'client_tls'
  | 'upstream'
  | 'node_id'
>;

/**
 * The node, when a row names one: rows written before nodes were recorded (null, or no column at
 * all in a database read without migrating it) hash as they always did.
 */
function nodePart(nodeId: string | null | undefined): string[] {
  return nodeId === null || nodeId === undefined ? [] : ['node', nodeId];
}

/** The hash of a session's header: the start of its event chain. */
export function sessionHeadHash(s: SessionHeadFields): string {
  return digest([
    'session',
    s.id,
    s.protocol,
    s.started_at_us,
    s.identity_oid,
    s.app_id,
    s.tenant_id,
    s.display_name,
    s.client_user,
    s.mapping,
    s.connection,
    s.scope,
    s.record_mode,
    s.client_address,
    s.client_tls,
    s.upstream,
    ...nodePart(s.node_id),
  ]);
}

/**
 * An event's hash: over the previous event's hash (the session's head hash for the first), the
 * session, its position and its stored line (at, direction, kind, outcome, data). One hash call
 * per event: the writer does this tens of thousands of times a second.
 */
export function eventHash(previous: string, sessionId: string, seq: number, body: string): string {
  // base64, not hex: a third less to store for every event.
  return hash('sha256', `${previous}\t${sessionId}\t${seq}\t${body}`, 'base64');
}

export interface SealFields {
  readonly id: string;
  readonly seal_seq: number;
  readonly ended_at_us: number;
  readonly end_reason: string;
  readonly bytes_from_client: number;
  readonly bytes_to_client: number;
  /** Null for a session sealed before schema 28 or lost with its gateway: then not hashed, as before. */
  readonly rows_returned?: number | null;
  readonly rows_affected?: number | null;
  readonly statements: number;
  readonly errors: number;
  readonly event_count: number;
  readonly head_hash: string;
  readonly last_event_hash: string;
}

/** Sessions are chained in the order they end (seal), each over the previous seal. */
export function sealHash(previous: string, s: SealFields): string {
  return digest([
    'seal',
    previous,
    s.id,
    s.seal_seq,
    s.ended_at_us,
    s.end_reason,
    s.bytes_from_client,
    s.bytes_to_client,
    s.statements,
    s.errors,
    s.event_count,
    s.head_hash,
    s.last_event_hash,
    ...rowsPart(s.rows_returned, s.rows_affected),
  ]);
}

/** What the session's statements sent and wrote, hashed only when known (so older seals hash as they did). */
function rowsPart(returned: number | null | undefined, affected: number | null | undefined): (string | number | null)[] {
  const known = (n: number | null | undefined): n is number => n !== null && n !== undefined;
  // Either one set is hashed with the other, so neither can be edited alone.
  return known(returned) || known(affected) ? ['rows', returned ?? null, affected ?? null] : [];
}

export type LoginFields = Omit<LoginRow, 'hash'>;

export function loginHash(previous: string, l: LoginFields): string {
  return digest([
    'login',
    previous,
    l.seq,
    l.at_us,
    l.accepted,
    l.reason,
    l.message,
    l.session_id,
    l.identity_oid,
    l.app_id,
    l.connection,
    l.client_user,
    l.client_address,
    ...nodePart(l.node_id),
  ]);
}

/** How a database began (log_origins): what the origin's signature stands for. */
export interface OriginFields {
  readonly at_us: number;
  readonly node_id: string | null;
  readonly kind: string;
  readonly previous_seal_seq: number | null;
  readonly previous_seal_hash: string | null;
  readonly previous_login_seq: number | null;
  readonly previous_login_hash: string | null;
  /** The log id of the database replaced, when known (absent before schema 17). */
  readonly previous_log_id?: string | null;
  /** Who noticed the replacement: running-process, journal, central-store (absent before schema 17). */
  readonly noticed_by?: string | null;
}

export function originHash(o: OriginFields): string {
  const replaced = o.previous_log_id === null || o.previous_log_id === undefined ? [] : ['previous-log', o.previous_log_id];
  const noticed = o.noticed_by === null || o.noticed_by === undefined ? [] : ['noticed-by', o.noticed_by];
  return digest([
    'origin',
    o.at_us,
    o.node_id,
    o.kind,
    o.previous_seal_seq,
    o.previous_seal_hash,
    o.previous_login_seq,
    o.previous_login_hash,
    ...replaced,
    ...noticed,
  ]);
}

/**
 * A node key taking over a log (log_keys): from these chain positions on, every seal and login
 * attempt carries its signature. The heads it names are vouched for as the key found them.
 */
export interface KeyFields {
  readonly at_us: number;
  readonly node_id: string | null;
  readonly public_key: string;
  readonly from_seal_seq: number;
  readonly from_seal_hash: string;
  readonly from_login_seq: number;
  readonly from_login_hash: string;
}

export function keyHash(k: KeyFields): string {
  return digest(['key', k.at_us, k.node_id, k.public_key, k.from_seal_seq, k.from_seal_hash, k.from_login_seq, k.from_login_hash]);
}

/** A prune: the chain heads it cut at and what it removed (prune_checkpoints). */
export interface PruneFields {
  readonly at_us: number;
  readonly older_than_us: number;
  readonly last_seal_seq: number | null;
  readonly last_seal_hash: string | null;
  readonly last_login_seq: number | null;
  readonly last_login_hash: string | null;
  readonly removed_sessions: number | null;
  readonly removed_events: number | null;
  readonly removed_logins: number | null;
}

export function pruneHash(p: PruneFields): string {
  return digest([
    'prune',
    p.at_us,
    p.older_than_us,
    p.last_seal_seq,
    p.last_seal_hash,
    p.last_login_seq,
    p.last_login_hash,
    p.removed_sessions,
    p.removed_events,
    p.removed_logins,
  ]);
}
