import type { Database } from 'better-sqlite3';
import type { LoginRow, SessionRow } from './audit-rows.js';
import { GENESIS, keyHash, originHash, pruneHash, type KeyFields, type OriginFields, type PruneFields } from './audit-hash.js';
import { hasTable } from './audit-store.js';
import { verifySigned } from '../signing/node-key.js';
import type { TrustList } from './trust-list.js';
import type { Finding } from './verify-finding.js';

interface KeyRow extends KeyFields {
  readonly id: number;
  readonly signature: string;
}

interface OriginRow extends OriginFields {
  readonly id: number;
  readonly signature?: string | null;
}

interface CheckpointRow extends PruneFields {
  readonly id: number;
  readonly public_key?: string | null;
  readonly signature?: string | null;
}

/** A key the log is signed with, and on whose word it is believed. */
export interface LogKey {
  readonly publicKey: string;
  readonly sinceUs: number;
  /** `trusted`: in the operator's trust list; `pinned`: only the log itself names it (first sight). */
  readonly trust: 'trusted' | 'pinned';
}

/** A prune the log records: when, up to when, what it removed, and whether the node's key signed it. */
export interface PruneNote {
  readonly atUs: number;
  readonly olderThanUs: number;
  readonly sessions: number | null;
  readonly logins: number | null;
  readonly signed: boolean;
}

export interface SigningReport {
  readonly node: string | null;
  readonly keys: readonly LogKey[];
  /** Sealed sessions and login attempts from before the log had a key (the key's first row vouches for their heads). */
  readonly unsignedBefore: { readonly seals: number; readonly logins: number };
  readonly prunes: readonly PruneNote[];
}

export interface SignatureInput {
  readonly db: Database;
  /** Sealed sessions in seal order. */
  readonly sealed: readonly SessionRow[];
  readonly logins: readonly LoginRow[];
  /** Where the chains of what the database holds begin (a prune checkpoint or a replaced origin). */
  readonly start: { readonly sealSeq: number; readonly sealHash: string; readonly loginSeq: number; readonly loginHash: string };
  readonly trust: TrustList;
  /** Prune checkpoints are the central store owner's, unsigned by design (see VerifyOptions). */
  readonly ownerCheckpoints: boolean;
}

/**
 * Checks the node key's signatures: every seal and login attempt after a key took the log over is
 * signed by it, the key rows themselves, the origin and every prune checkpoint. A key is believed
 * when the trust list names it for the log's node; a log whose node the list does not name is
 * checked against the first key it names itself (pinned), and any change of key is then a finding.
 */
export function verifySignatures(input: SignatureInput, findings: Finding[]): SigningReport {
  const { db, sealed, logins, trust } = input;
  const origin = hasTable(input.db, 'log_origins')
    ? (db.prepare('SELECT * FROM log_origins ORDER BY id LIMIT 1').get() as OriginRow | undefined)
    : undefined;
  const keyRows = hasTable(db, 'log_keys') ? (db.prepare('SELECT * FROM log_keys ORDER BY id').all() as KeyRow[]) : [];
  const node = origin?.node_id ?? keyRows[0]?.node_id ?? sealed[0]?.node_id ?? logins[0]?.node_id ?? null;
  const trusted = trust.keysFor(node);
  const where = node === null ? {} : { node };
  const accepted = acceptKeys(keyRows, trusted, findings, where);
  checkKeyHeads(accepted, input, findings, where);
  // The node a log names is the attacker's to write: with a trust list, a log of a node it does not
  // name is vouched for by nobody (else renaming the node and re-signing with any key would pass, pinned).
  if (trusted === undefined && trust.size > 0 && sealed.length + logins.length > 0) {
    findings.push({
      kind: 'untrusted-key',
      where: 'log',
      detail: `node ${node ?? '(unnamed)'} is not in the trust list (recordings.trusted-nodes): nothing vouches for who wrote this log`,
      ...where,
    });
  }
  if (keyRows.length === 0 && trusted !== undefined && sealed.length + logins.length > 0) {
    findings.push({
      kind: 'unsigned',
      where: 'log',
      detail: `node ${node ?? ''} is in the trust list, but its log carries no key and no signature`,
      ...where,
    });
  }
  const keyFor = (field: 'from_seal_seq' | 'from_login_seq', seq: number): string | undefined => {
    let key: string | undefined;
    for (const k of accepted) if (k[field] < seq) key = k.public_key;
    return key;
  };
  let unsignedSeals = 0;
  for (const s of sealed) {
    const key = keyFor('from_seal_seq', s.seal_seq ?? 0);
    if (key === undefined) unsignedSeals += 1;
    else if (!verifySigned(key, 'seal', s.seal_hash ?? '', s.seal_signature ?? null)) {
      findings.push(signatureFinding(`session ${s.id}`, 'its seal', s.seal_signature ?? null, where));
    }
  }
  let unsignedLogins = 0;
  for (const l of logins) {
    const key = keyFor('from_login_seq', l.seq);
    if (key === undefined) unsignedLogins += 1;
    else if (!verifySigned(key, 'login', l.hash, l.signature ?? null)) {
      findings.push(signatureFinding(`login attempt #${l.seq}`, 'it', l.signature ?? null, where));
    }
  }
  if (origin !== undefined) checkOrigin(origin, accepted, findings, where);
  const prunes = checkPrunes(db, input.ownerCheckpoints ? [] : accepted, findings, where);
  return {
    node,
    keys: accepted.map((k) => ({ publicKey: k.public_key, sinceUs: k.at_us, trust: trusted === undefined ? 'pinned' : 'trusted' })),
    unsignedBefore: { seals: unsignedSeals, logins: unsignedLogins },
    prunes,
  };
}

/** The key rows whose signature holds and whose key is believed, in order. */
function acceptKeys(
  rows: readonly KeyRow[],
  trusted: readonly string[] | undefined,
  findings: Finding[],
  where: { node?: string },
): KeyRow[] {
  const accepted: KeyRow[] = [];
  for (const k of rows) {
    if (!verifySigned(k.public_key, 'key', keyHash(k), k.signature)) {
      findings.push({
        kind: 'forged',
        where: `key row #${k.id}`,
        detail: `it is not signed by the key it names (${k.public_key})`,
        ...where,
      });
    } else if (trusted !== undefined && !trusted.includes(k.public_key)) {
      findings.push({
        kind: 'untrusted-key',
        where: `key row #${k.id}`,
        detail: `the log is signed from here on by ${k.public_key}, which the trust list does not name for this node`,
        ...where,
      });
    } else if (trusted === undefined && accepted[0] !== undefined && accepted[0].public_key !== k.public_key) {
      findings.push({
        kind: 'untrusted-key',
        where: `key row #${k.id}`,
        detail: `the log changes from key ${accepted[0].public_key} to ${k.public_key}; only a trust list (recordings.trusted-nodes) can vouch for a new key`,
        ...where,
      });
    } else {
      accepted.push(k);
    }
  }
  return accepted;
}

/** A key row vouches for the chain heads where it took over: they must be the ones the chains have there. */
function checkKeyHeads(keys: readonly KeyRow[], input: SignatureInput, findings: Finding[], where: { node?: string }): void {
  const sealAt = new Map<number, string>([[input.start.sealSeq, input.start.sealHash]]);
  if (input.start.sealSeq === 0) sealAt.set(0, GENESIS);
  for (const s of input.sealed) if (s.seal_seq !== null && s.seal_hash !== null) sealAt.set(s.seal_seq, s.seal_hash);
  const loginAt = new Map<number, string>([[input.start.loginSeq, input.start.loginHash]]);
  if (input.start.loginSeq === 0) loginAt.set(0, GENESIS);
  for (const l of input.logins) loginAt.set(l.seq, l.hash);
  for (const k of keys) {
    const seal = sealAt.get(k.from_seal_seq);
    const login = loginAt.get(k.from_login_seq);
    // Heads cut away by a prune cannot be compared; the prune's checkpoint is signed instead.
    if ((seal !== undefined && seal !== k.from_seal_hash) || (login !== undefined && login !== k.from_login_hash)) {
      findings.push({
        kind: 'edited',
        where: `key row #${k.id}`,
        detail: `the chains at seal ${k.from_seal_seq} / login ${k.from_login_seq} are not the ones the key took over`,
        ...where,
      });
    }
  }
}

function checkOrigin(origin: OriginRow, keys: readonly KeyRow[], findings: Finding[], where: { node?: string }): void {
  const signature = origin.signature ?? null;
  const first = keys[0];
  if (signature === null) {
    // An origin written before the node had a key is vouched for by the first key row's heads.
    if (first !== undefined && first.at_us <= origin.at_us) {
      findings.push({
        kind: 'unsigned',
        where: 'log origin',
        detail: 'it is not signed, although the log had a key when it began',
        ...where,
      });
    }
    return;
  }
  if (!keys.some((k) => verifySigned(k.public_key, 'origin', originHash(origin), signature))) {
    findings.push({ kind: 'forged', where: 'log origin', detail: 'its signature is not one of the log’s keys', ...where });
  }
}

function checkPrunes(db: Database, keys: readonly KeyRow[], findings: Finding[], where: { node?: string }): PruneNote[] {
  if (!hasTable(db, 'prune_checkpoints')) return [];
  const rows = db.prepare('SELECT * FROM prune_checkpoints ORDER BY id').all() as CheckpointRow[];
  const notes: PruneNote[] = [];
  for (const c of rows) {
    const fields: PruneFields = {
      at_us: c.at_us,
      older_than_us: c.older_than_us,
      last_seal_seq: c.last_seal_seq,
      last_seal_hash: c.last_seal_hash,
      last_login_seq: c.last_login_seq,
      last_login_hash: c.last_login_hash,
      removed_sessions: c.removed_sessions ?? null,
      removed_events: c.removed_events ?? null,
      removed_logins: c.removed_logins ?? null,
    };
    const signature = c.signature ?? null;
    const signed =
      signature !== null &&
      keys.some((k) => k.public_key === c.public_key && verifySigned(k.public_key, 'prune', pruneHash(fields), signature));
    notes.push({ atUs: c.at_us, olderThanUs: c.older_than_us, sessions: fields.removed_sessions, logins: fields.removed_logins, signed });
    const keyed = keys.some((k) => k.at_us <= c.at_us);
    if (keyed && !signed) {
      findings.push({
        kind: signature === null ? 'unsigned' : 'forged',
        where: `prune checkpoint #${c.id}`,
        detail: `it is not signed by the log's key: the history before it may have been removed by someone else`,
        ...where,
      });
    }
  }
  return notes;
}

function signatureFinding(what: string, subject: string, signature: string | null, where: { node?: string }): Finding {
  return signature === null
    ? { kind: 'unsigned', where: what, detail: `${subject} carries no signature, although the log had a key`, ...where }
    : { kind: 'forged', where: what, detail: `${subject} is not signed by the node's key`, ...where };
}
