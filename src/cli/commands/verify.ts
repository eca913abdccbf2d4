import type { CommandModule } from 'yargs';
import { AuditReader } from '../../audit/audit-reader.js';
import { verifyAudit } from '../../audit/verify-audit.js';
import { auditDbPath, dbOptions } from './db-option.js';

interface VerifyArgs {
  readonly db?: string | undefined;
  readonly config: string;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify',
  describe: 'check the audit chains; names every edited, inserted, deleted or reordered row (exit 1)',
  builder: (y) => y.options(dbOptions),
  handler: (args) => {
    const reader = new AuditReader(auditDbPath(args));
    try {
      const report = verifyAudit(reader.db);
      for (const f of report.findings) process.stdout.write(`TAMPERED (${f.kind}) ${f.where}${f.node === undefined ? '' : ` (node ${f.node})`}: ${f.detail}\n`);
      for (const id of report.unsealed) process.stdout.write(`open: session ${id} has not ended (or the gateway stopped before ending it)\n`);
      if (report.origin?.kind === 'created') {
        const by = report.origin.nodeId === null ? '' : ` by node ${report.origin.nodeId}`;
        process.stdout.write(`origin: this log was begun ${new Date(report.origin.atUs / 1000).toISOString()}${by}; nothing before it is known\n`);
      }
      process.stdout.write(
        `${report.findings.length === 0 ? 'ok' : 'FAILED'}: ${report.sessions} sessions, ${report.events} events, ${report.logins} login attempts; chain head ${report.head}\n`,
      );
      if (report.findings.length > 0) process.exitCode = 1;
    } finally {
      reader.close();
    }
  },
};
