import type { Database } from 'better-sqlite3';
import { pruneHash, type PruneFields } from './audit-hash.js';
import { AuditError } from './audit-error.js';
import { hasTable } from './audit-store.js';
import type { NodeKey } from '../signing/node-key.js';

export interface PruneResult {
  readonly sessions: number;
  readonly events: number;
  readonly logins: number;
}

/**
 * Deletes sessions that ended, and login attempts made, before `olderThanUs`, always a prefix of
 * their chains, and leaves a checkpoint with the last deleted hashes so `verify` starts there and
 * does not mistake retention for tampering. Open sessions are kept, and so is everything from the
 * first row a central store has not yet confirmed. A signed log's checkpoint is signed with the
 * node's key, which must be the one the log is signed with now: `verify` refuses an unsigned cut.
 */
export function pruneAudit(db: Database, olderThanUs: number, nowUs: number, key?: NodeKey, dryRun = false): PruneResult {
  if (dryRun) return countingOnly(db, () => pruneAudit(db, olderThanUs, nowUs, undefined));
  const logKey = hasTable(db, 'log_keys')
    ? (db.prepare('SELECT public_key FROM log_keys ORDER BY id DESC LIMIT 1').get() as { public_key: string } | undefined)
    : undefined;
  if (logKey !== undefined && key?.publicKey !== logKey.public_key) {
    throw new AuditError(
      'audit-key-needed',
      `this log is signed with ${logKey.public_key}: prune needs that node key (recordings.signing-key-file of --config) to sign its checkpoint`,
    );
  }
  return db.transaction((): PruneResult => {
    // With a central store, what it has not confirmed stays: the cut stops before the first unshipped row of each chain.
    const shipping = hasTable(db, 'ship_outbox');
    const unshipped = shipping
      ? 'AND seal_seq < coalesce((SELECT min(s.seal_seq) FROM sessions s JOIN ship_outbox o ON o.session_id = s.id), 9e18)'
      : '';
    const unshippedLogins = shipping ? "AND seq < coalesce((SELECT min(item) FROM ship_outbox WHERE kind = 'login'), 9e18)" : '';
    const lastSeal = db
      .prepare(
        `SELECT seal_seq, seal_hash FROM sessions WHERE seal_seq IS NOT NULL AND ended_at_us < ? ${unshipped} ORDER BY seal_seq DESC LIMIT 1`,
      )
      .get(olderThanUs) as { seal_seq: number; seal_hash: string } | undefined;
    const lastLogin = db
      .prepare(`SELECT seq, hash FROM login_attempts WHERE at_us < ? ${unshippedLogins} ORDER BY seq DESC LIMIT 1`)
      .get(olderThanUs) as { seq: number; hash: string } | undefined;
    if (lastSeal === undefined && lastLogin === undefined) return { sessions: 0, events: 0, logins: 0 };
    const previous = db.prepare('SELECT * FROM prune_checkpoints ORDER BY id DESC LIMIT 1').get() as
      | { last_seal_seq: number | null; last_seal_hash: string | null; last_login_seq: number | null; last_login_hash: string | null }
      | undefined;
    const sealCut = lastSeal?.seal_seq ?? 0;
    const events = (
      db
        .prepare(
          'SELECT coalesce(sum(last_seq - first_seq + 1), 0) AS n FROM event_segments WHERE session_id IN (SELECT id FROM sessions WHERE seal_seq <= ?)',
        )
        .get(sealCut) as { n: number }
    ).n;
    db.prepare('DELETE FROM event_segments WHERE session_id IN (SELECT id FROM sessions WHERE seal_seq <= ?)').run(sealCut);
    const sessions = db.prepare('DELETE FROM sessions WHERE seal_seq <= ?').run(sealCut).changes;
    const logins = db.prepare('DELETE FROM login_attempts WHERE seq <= ?').run(lastLogin?.seq ?? 0).changes;
    const checkpoint: PruneFields = {
      at_us: nowUs,
      older_than_us: olderThanUs,
      last_seal_seq: lastSeal?.seal_seq ?? previous?.last_seal_seq ?? null,
      last_seal_hash: lastSeal?.seal_hash ?? previous?.last_seal_hash ?? null,
      last_login_seq: lastLogin?.seq ?? previous?.last_login_seq ?? null,
      last_login_hash: lastLogin?.hash ?? previous?.last_login_hash ?? null,
      removed_sessions: sessions,
      removed_events: events,
      removed_logins: logins,
    };
    db.prepare(
      `INSERT INTO prune_checkpoints (at_us, older_than_us, last_seal_seq, last_seal_hash, last_login_seq, last_login_hash,
         removed_sessions, removed_events, removed_logins, public_key, signature)
       VALUES (@at_us, @older_than_us, @last_seal_seq, @last_seal_hash, @last_login_seq, @last_login_hash,
         @removed_sessions, @removed_events, @removed_logins, @public_key, @signature)`,
    ).run({ ...checkpoint, public_key: key?.publicKey ?? null, signature: key?.sign('prune', pruneHash(checkpoint)) ?? null });
    return { sessions, events, logins };
  })();
}

/**
 * `--dry-run`: the same cut, made inside a transaction that is then rolled back (better-sqlite3
 * nests the prune's own transaction as a savepoint), so what it reports is what a real run would
 * remove now (no key needed: no checkpoint is kept).
 */
function countingOnly(db: Database, prune: () => PruneResult): PruneResult {
  db.exec('BEGIN');
  try {
    return prune();
  } finally {
    db.exec('ROLLBACK');
  }
}
