import type pg from 'pg';
import { GENESIS } from '../audit-hash.js';
import type { Predecessor } from '../audit-store.js';
import { CENTRAL_SCHEMA as S } from './central-schema.js';

/**
 * The newest log the central store holds for `nodeId`, with its chain heads there: what a new
 * local database of that node replaces (the old one was removed while the gateway was down).
 * Undefined when the store has no log of the node (a first start).
 */
export async function centralPredecessor(client: pg.ClientBase, nodeId: string): Promise<Predecessor | undefined> {
  const log = (
    await client.query<{ log_id: string }>(
      `SELECT log_id FROM ${S}.log_origins WHERE node_id = $1 GROUP BY log_id ORDER BY max(at_us) DESC LIMIT 1`,
      [nodeId],
    )
  ).rows[0];
  if (log === undefined) return undefined;
  const logId = log.log_id;
  const seal = (
    await client.query<{ seq: string; hash: string }>(
      `SELECT seal_seq AS seq, seal_hash AS hash FROM ${S}.session_seals WHERE log_id = $1 ORDER BY seal_seq DESC LIMIT 1`,
      [logId],
    )
  ).rows[0];
  const login = (
    await client.query<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM ${S}.login_attempts WHERE log_id = $1 ORDER BY seq DESC LIMIT 1`,
      [logId],
    )
  ).rows[0];
  // Pruned there down to nothing: the newest checkpoint holds the heads.
  const checkpoint = (
    await client.query<{
      last_seal_seq: string | null;
      last_seal_hash: string | null;
      last_login_seq: string | null;
      last_login_hash: string | null;
    }>(
      `SELECT last_seal_seq, last_seal_hash, last_login_seq, last_login_hash FROM ${S}.prune_checkpoints WHERE log_id = $1 ORDER BY at_us DESC LIMIT 1`,
      [logId],
    )
  ).rows[0];
  return {
    logId,
    heads: {
      sealSeq: Number(seal?.seq ?? checkpoint?.last_seal_seq ?? 0),
      sealHash: seal?.hash ?? checkpoint?.last_seal_hash ?? GENESIS,
      loginSeq: Number(login?.seq ?? checkpoint?.last_login_seq ?? 0),
      loginHash: login?.hash ?? checkpoint?.last_login_hash ?? GENESIS,
    },
    noticedBy: 'central-store',
  };
}
