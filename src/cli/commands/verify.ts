import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { AuditReader } from '../../audit/audit-reader.js';
import { centralLogs } from '../../audit/central/central-copy.js';
import { centralTarget, connectCentral } from '../../audit/central/central-target.js';
import { verifyAudit, type VerifyReport } from '../../audit/verify-audit.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { auditDbPath, copyFromCentral, dbOptions, isCentralUrl } from './db-option.js';

interface VerifyArgs {
  readonly db?: string | undefined;
  readonly config: string;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify',
  describe: 'check the audit chains; names every edited, inserted, deleted or reordered row (exit 1); on the central store, every node log',
  builder: (y) => y.options(dbOptions),
  handler: async (args) => {
    const db = auditDbPath(args);
    const ok = isCentralUrl(db) ? await verifyCentral(db) : verifyFile(db, '');
    if (!ok) process.exitCode = 1;
  },
};

/** Verifies one log (a node's database, or its copy from the central store); `label` names it in the output. */
function verifyFile(path: string, label: string): boolean {
  const reader = new AuditReader(path);
  try {
    const report = verifyAudit(reader.db);
    printReport(report, label);
    return report.findings.length === 0;
  } finally {
    reader.close();
  }
}

/** Each node's log in the central store, checked as its own chains. */
async function verifyCentral(url: string): Promise<boolean> {
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
      ok = verifyFile(path, `node ${log.nodeId ?? '(unnamed)'} log ${log.logId}: `) && ok;
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
  process.stdout.write(
    `${label}${report.findings.length === 0 ? 'ok' : 'FAILED'}: ${report.sessions} sessions, ${report.events} events, ${report.logins} login attempts; chain head ${report.head}\n`,
  );
}
