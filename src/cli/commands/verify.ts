import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { AuditReader } from '../../audit/audit-reader.js';
import { centralLogs } from '../../audit/central/central-copy.js';
import { centralTarget, connectCentral } from '../../audit/central/central-target.js';
import { verifyAudit, type VerifyReport } from '../../audit/verify-audit.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { loadConfigFile } from '../../config/load-config.js';
import { isPublicKeyText } from '../../signing/node-key.js';
import { TrustList } from '../../audit/trust-list.js';
import { UsageError } from '../../idgate-error.js';
import { auditDbPath, copyFromCentral, dbOptions, isCentralUrl } from './db-option.js';

interface VerifyArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'trusted-key'?: readonly string[] | undefined;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify',
  describe: 'check the audit chains; names every edited, inserted, deleted or reordered row (exit 1); on the central store, every node log',
  builder: (y) =>
    y.options(dbOptions).option('trusted-key', {
      type: 'string',
      array: true,
      describe: "NODE=ed25519:… a node's public key to believe (added to the config's recordings.trusted-nodes); repeat for more",
    }),
  handler: async (args) => {
    const db = auditDbPath(args);
    const trust = trustListOf(args);
    const ok = isCentralUrl(db) ? await verifyCentral(db, trust) : verifyFile(db, '', trust);
    if (!ok) process.exitCode = 1;
  },
};

/** The config's recordings.trusted-nodes (when the config file is there) and every --trusted-key. */
function trustListOf(args: VerifyArgs): TrustList {
  const entries = new Map<string, string[]>();
  if (existsSync(args.config)) {
    for (const [node, keys] of loadConfigFile(args.config).trustedNodes) entries.set(node, [...keys]);
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

/** Verifies one log (a node's database, or its copy from the central store); `label` names it in the output. */
function verifyFile(path: string, label: string, trust: TrustList, centralCopy = false): boolean {
  const reader = new AuditReader(path);
  try {
    const report = verifyAudit(reader.db, trust, { centralCopy });
    printReport(report, label);
    return report.findings.length === 0;
  } finally {
    reader.close();
  }
}

/** Each node's log in the central store, checked as its own chains. */
async function verifyCentral(url: string, trust: TrustList): Promise<boolean> {
  const client = await connectCentral(centralTarget(parsePostgresUrl(url, '--db')), 'idgate verify');
  let logs: Awaited<ReturnType<typeof centralLogs>>;
  try {
    logs = await centralLogs(client);
  } finally {
    await client.end();
  }
  let ok = true;
  for (const log of logs) {
    const path = await copyFromCentral(url, { kind: 'log', logId: log.logId });
    try {
      ok = verifyFile(path, `node ${log.nodeId ?? '(unnamed)'} log ${log.logId}: `, trust, true) && ok;
    } finally {
      rmSync(join(path, '..'), { recursive: true, force: true });
    }
  }
  process.stdout.write(`${ok ? 'ok' : 'FAILED'}: ${logs.length} node logs in the central store\n`);
  return ok;
}

function printReport(report: VerifyReport, label: string): void {
  for (const f of report.findings) {
    process.stdout.write(`${label}TAMPERED (${f.kind}) ${f.where}${f.node === undefined ? '' : ` (node ${f.node})`}: ${f.detail}\n`);
  }
  for (const id of report.unsealed) {
    process.stdout.write(`${label}open: session ${id} has not ended (or the gateway stopped before ending it)\n`);
  }
  if (report.origin?.kind === 'created') {
    const by = report.origin.nodeId === null ? '' : ` by node ${report.origin.nodeId}`;
    process.stdout.write(
      `${label}origin: this log was begun ${new Date(report.origin.atUs / 1000).toISOString()}${by}; nothing before it is known\n`,
    );
  }
  printSigning(report, label);
  process.stdout.write(
    `${label}${report.findings.length === 0 ? 'ok' : 'FAILED'}: ${report.sessions} sessions, ${report.events} events, ${report.logins} login attempts; chain head ${report.head}\n`,
  );
}

function printSigning(report: VerifyReport, label: string): void {
  const { signing } = report;
  const node = signing.node === null ? 'the node' : `node ${signing.node}`;
  if (signing.keys.length === 0) {
    process.stdout.write(`${label}unsigned: ${node} had no signing key (recordings.signing-key-file); only the hash chains were checked\n`);
  }
  for (const k of signing.keys) {
    const since = new Date(k.sinceUs / 1000).toISOString();
    process.stdout.write(
      k.trust === 'trusted'
        ? `${label}signed: by ${node}'s key ${k.publicKey} (in the trust list) from ${since}\n`
        : `${label}WARNING: signed by ${k.publicKey} from ${since}, a key only the log itself names (pinned at first sight): this proves the rows were not changed since, not that ${node} wrote them; add it to recordings.trusted-nodes\n`,
    );
  }
  const { seals, logins } = signing.unsignedBefore;
  if (signing.keys.length > 0 && seals + logins > 0) {
    process.stdout.write(
      `${label}unsigned: ${seals} sealed sessions and ${logins} login attempts predate the key; its first row vouches for their chain heads\n`,
    );
  }
  for (const p of signing.prunes) {
    process.stdout.write(
      `${label}pruned ${new Date(p.atUs / 1000).toISOString()}: history before ${new Date(p.olderThanUs / 1000).toISOString()} removed (${p.sessions ?? '?'} sessions, ${p.logins ?? '?'} login attempts), ${p.signed ? 'signed by the node key' : 'unsigned'}\n`,
    );
  }
}
