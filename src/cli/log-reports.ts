import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'yargs';
import type { Anchor } from '../audit/anchor-record.js';
import { AuditReader } from '../audit/audit-reader.js';
import { hasTable } from '../audit/audit-store.js';
import { TrustList } from '../audit/trust-list.js';
import { verifyAudit, type VerifyReport } from '../audit/verify-audit.js';
import { UsageError } from '../idgate-error.js';
import { isPublicKeyText } from '../signing/node-key.js';
import { openAuditReader } from './options/audit-source.js';

export const trustedKeyOption = {
  type: 'string',
  array: true,
  describe: "NODE=ed25519:… a node's public key to believe (added to the config's recordings.trusted-nodes); repeat for more",
} as const satisfies Options;

interface TrustArgs {
  readonly config: string;
  readonly 'trusted-key'?: readonly string[] | undefined;
}

/**
 * The config's recordings.trusted-nodes (when the config file is there) and every --trusted-key.
 * The configuration's reader is loaded only when there is a file to read (its schema and YAML
 * parser cost a command's start more than the rest of `verify`).
 */
export async function trustListOf(args: TrustArgs): Promise<TrustList> {
  const entries = new Map<string, string[]>();
  if (existsSync(args.config)) {
    const { loadConfigFile, READ_ONLY } = await import('../config/load-config.js');
    for (const [node, keys] of loadConfigFile(args.config, process.env, READ_ONLY).trustedNodes) entries.set(node, [...keys]);
  }
  for (const given of args['trusted-key'] ?? []) {
    const eq = given.indexOf('=');
    const node = given.slice(0, eq);
    const key = given.slice(eq + 1);
    if (eq <= 0 || !isPublicKeyText(key)) {
      throw new UsageError('bad-argument', `--trusted-key ${given}: expected NODE=ed25519:… (a public key as idgate keygen prints it)`);
    }
    entries.set(node, [...(entries.get(node) ?? []), key]);
  }
  return new TrustList(entries);
}

/** One log verified: its id (undefined for a local database never applied from a journal), a label for output, the report. */
export interface LogReport {
  readonly logId: string | undefined;
  readonly label: string;
  readonly report: VerifyReport;
}

/** Verifies a node's own database; anchors of its log id are checked too. */
export function localLogReport(path: string, trust: TrustList, anchors: readonly Anchor[], what = '--db'): LogReport {
  const reader = openAuditReader(path, what);
  try {
    const row = hasTable(reader.db, 'write_ahead')
      ? (reader.db.prepare('SELECT log_id FROM write_ahead WHERE id = 1').get() as { log_id: string } | undefined)
      : undefined;
    const logId = row?.log_id;
    const report = verifyAudit(reader.db, trust, { anchors: anchors.filter((a) => a.logId === logId) });
    return { logId, label: '', report };
  } finally {
    reader.close();
  }
}

/** Verifies each node's log in the central store (or only `onlyLog`) as its own chains, each with the anchors of its log id. */
export async function centralLogReports(url: string, trust: TrustList, anchors: readonly Anchor[], onlyLog?: string): Promise<LogReport[]> {
  const [{ centralLogs }, { connectCentralFor, copyFromCentral }] = await Promise.all([
    import('../audit/central/central-copy.js'),
    import('./options/central-source.js'),
  ]);
  const client = await connectCentralFor(url, 'idgate verify');
  let logs: Awaited<ReturnType<typeof centralLogs>>;
  try {
    logs = await centralLogs(client);
  } finally {
    await client.end();
  }
  const reports: LogReport[] = [];
  for (const log of logs.filter((l) => onlyLog === undefined || l.logId === onlyLog)) {
    const path = await copyFromCentral(url, { kind: 'log', logId: log.logId });
    const reader = new AuditReader(path);
    try {
      const report = verifyAudit(reader.db, trust, { centralCopy: true, anchors: anchors.filter((a) => a.logId === log.logId) });
      reports.push({ logId: log.logId, label: `node ${log.nodeId ?? '(unnamed)'} log ${log.logId}: `, report });
    } finally {
      reader.close();
      rmSync(join(path, '..'), { recursive: true, force: true });
    }
  }
  return reports;
}

/** Verifies the one node log in the central store that holds session `sessionId` (undefined: the store holds no such session). */
export async function centralSessionLogReport(url: string, trust: TrustList, sessionId: string): Promise<LogReport | undefined> {
  const { connectCentralFor } = await import('./options/central-source.js');
  const { CENTRAL_SCHEMA } = await import('../audit/central/central-schema.js');
  const client = await connectCentralFor(url, 'idgate replay');
  let logId: string | undefined;
  try {
    const rows = await client.query<{ log_id: string }>(`SELECT log_id FROM ${CENTRAL_SCHEMA}.sessions WHERE id = $1`, [sessionId]);
    logId = rows.rows[0]?.log_id;
  } finally {
    await client.end();
  }
  if (logId === undefined) return undefined;
  return (await centralLogReports(url, trust, [], logId))[0];
}
