import type pg from 'pg';
import type { PruneResult } from '../prune-audit.js';
import { centralLogs } from './central-copy.js';
import { CENTRAL_SCHEMA as S } from './central-schema.js';

/**
 * `idgate prune` on the central store, as its owner (the gateways' role cannot delete): for each
 * node's log, the sessions that ended and the login attempts made before `olderThanUs` — always a
 * prefix of that log's chains — go, and a checkpoint with the last deleted hashes stays, so
 * `verify` starts there. One transaction.
 */
export async function pruneCentral(client: pg.ClientBase, olderThanUs: number, nowUs: number, dryRun = false): Promise<PruneResult> {
  const total = { sessions: 0, events: 0, logins: 0 };
  await client.query('BEGIN');
  try {
    for (const { logId } of await centralLogs(client)) {
      const result = await pruneLog(client, logId, olderThanUs, nowUs);
      total.sessions += result.sessions;
      total.events += result.events;
      total.logins += result.logins;
    }
    // A dry run reports what the same cut would remove now, and keeps nothing of it.
    await client.query(dryRun ? 'ROLLBACK' : 'COMMIT');
    return total;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function pruneLog(client: pg.ClientBase, logId: string, olderThanUs: number, nowUs: number): Promise<PruneResult> {
  const seal = (
    await client.query<{ seal_seq: string; seal_hash: string }>(
      `SELECT seal_seq, seal_hash FROM ${S}.session_seals WHERE log_id = $1 AND ended_at_us < $2 ORDER BY seal_seq DESC LIMIT 1`,
      [logId, olderThanUs],
    )
  ).rows[0];
  const login = (
    await client.query<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM ${S}.login_attempts WHERE log_id = $1 AND at_us < $2 ORDER BY seq DESC LIMIT 1`,
      [logId, olderThanUs],
    )
  ).rows[0];
  if (seal === undefined && login === undefined) return { sessions: 0, events: 0, logins: 0 };
  const previous = (
    await client.query<{
      last_seal_seq: string | null;
      last_seal_hash: string | null;
      last_login_seq: string | null;
      last_login_hash: string | null;
    }>(`SELECT * FROM ${S}.prune_checkpoints WHERE log_id = $1 ORDER BY at_us DESC LIMIT 1`, [logId])
  ).rows[0];
  const cut = `SELECT session_id FROM ${S}.session_seals WHERE log_id = $1 AND seal_seq <= $2`;
  const sealCut = seal?.seal_seq ?? '0';
  const events = await client.query<{ n: string }>(
    `SELECT coalesce(sum(last_seq - first_seq + 1), 0) AS n FROM ${S}.event_segments WHERE session_id IN (${cut})`,
    [logId, sealCut],
  );
  await client.query(`DELETE FROM ${S}.event_segments WHERE session_id IN (${cut})`, [logId, sealCut]);
  await client.query(`DELETE FROM ${S}.session_progress WHERE session_id IN (${cut})`, [logId, sealCut]);
  const sessions = await client.query(`DELETE FROM ${S}.sessions WHERE id IN (${cut})`, [logId, sealCut]);
  await client.query(`DELETE FROM ${S}.session_seals WHERE log_id = $1 AND seal_seq <= $2`, [logId, sealCut]);
  const logins = await client.query(`DELETE FROM ${S}.login_attempts WHERE log_id = $1 AND seq <= $2`, [logId, login?.seq ?? '0']);
  await client.query(
    `INSERT INTO ${S}.prune_checkpoints (log_id, at_us, older_than_us, last_seal_seq, last_seal_hash, last_login_seq, last_login_hash,
       removed_sessions, removed_events, removed_logins) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      logId,
      nowUs,
      olderThanUs,
      seal?.seal_seq ?? previous?.last_seal_seq ?? null,
      seal?.seal_hash ?? previous?.last_seal_hash ?? null,
      login?.seq ?? previous?.last_login_seq ?? null,
      login?.hash ?? previous?.last_login_hash ?? null,
      sessions.rowCount ?? 0,
      Number(events.rows[0]?.n ?? 0),
      logins.rowCount ?? 0,
    ],
  );
  return { sessions: sessions.rowCount ?? 0, events: Number(events.rows[0]?.n ?? 0), logins: logins.rowCount ?? 0 };
}
