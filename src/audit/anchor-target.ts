import { appendFile, readFile } from 'node:fs/promises';
import type pg from 'pg';
import { parsePostgresUrl } from '../config/postgres-url.js';
import { anchorLine, anchorOf, parseAnchorLines, type Anchor } from './anchor-record.js';
import { AuditError } from './audit-error.js';

/**
 * Where anchors are kept, away from the nodes: a file (appended, one JSON line each — put it in a
 * directory the gateways' hosts cannot write, ideally append-only: `chattr +a`, a WORM share) or a
 * table `idgate_anchors` in another PostgreSQL database (`postgres://…`, a role that may only
 * INSERT and SELECT there). Object stores (S3, Azure Blob) are not built: write the file target
 * to a mount of one with object lock.
 */
export function isPostgresTarget(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

export async function writeAnchors(target: string, anchors: readonly Anchor[]): Promise<void> {
  if (!isPostgresTarget(target)) {
    // One append of whole lines: O_APPEND keeps concurrent anchor runs from interleaving inside a line.
    await appendFile(target, anchors.map(anchorLine).join(''), { mode: 0o644 });
    return;
  }
  await withClient(target, async (client) => {
    await client.query(ANCHOR_TABLE);
    for (const a of anchors) {
      await client.query(
        `INSERT INTO idgate_anchors (at_us, log_id, node_id, seal_seq, seal_hash, login_seq, login_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT DO NOTHING`,
        [a.atUs, a.logId, a.node, a.sealSeq, a.sealHash, a.loginSeq, a.loginHash],
      );
    }
  });
}

/** Every anchor the target holds; a file line that does not read as one fails the read (it is evidence too). */
export async function readAnchors(target: string): Promise<Anchor[]> {
  if (!isPostgresTarget(target)) {
    let text: string;
    try {
      text = await readFile(target, 'utf8');
    } catch (e) {
      throw new AuditError(
        'audit-anchors-unreadable',
        `--anchors ${target}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const { anchors, unreadable } = parseAnchorLines(text);
    if (unreadable.length > 0) {
      throw new AuditError('audit-anchors-unreadable', `--anchors ${target}: line ${unreadable.join(', ')} is not an anchor`);
    }
    return anchors;
  }
  return withClient(target, async (client) => {
    const exists = await client.query<{ present: boolean }>(`SELECT to_regclass('idgate_anchors') IS NOT NULL AS present`);
    if (exists.rows[0]?.present !== true) return [];
    const rows = await client.query('SELECT * FROM idgate_anchors ORDER BY at_us');
    return rows.rows.map((r: unknown) => anchorOf(r)).filter((a): a is Anchor => a !== undefined);
  });
}

const ANCHOR_TABLE = `CREATE TABLE IF NOT EXISTS idgate_anchors (
  at_us bigint NOT NULL,
  log_id text NOT NULL,
  node_id text,
  seal_seq bigint NOT NULL,
  seal_hash text NOT NULL,
  login_seq bigint NOT NULL,
  login_hash text NOT NULL,
  PRIMARY KEY (log_id, at_us)
)`;

/** pg is loaded only for a postgres:// target: `verify --anchors file` need not pay its start. */
async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const { centralTarget, connectCentral } = await import('./central/central-target.js');
  const client = await connectCentral(centralTarget(parsePostgresUrl(url, '--to')), 'idgate anchor');
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
