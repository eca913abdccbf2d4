import type { CommandModule } from 'yargs';
import type { Anchor } from '../../audit/anchor-record.js';
import { isPostgresTarget, writeAnchors } from '../../audit/anchor-target.js';
import { nowMicros } from '../../audit/audit-event.js';
import { centralLogReports, localLogReport, trustedKeyOption, trustListOf } from '../log-reports.js';
import { auditDbPath, auditDbSource, dbOptions, isCentralUrl } from '../options/db-option.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface AnchorArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'trusted-key'?: readonly string[] | undefined;
  readonly to: string;
}

export const anchorCommand: CommandModule<object, AnchorArgs> = {
  ...COMMAND_SUMMARIES.anchor,
  builder: (y) =>
    y.options(dbOptions).option('trusted-key', trustedKeyOption).option('to', {
      type: 'string',
      demandOption: true,
      describe: 'a file the gateways cannot write (appended, one JSON line per log), or postgres://… (table idgate_anchors)',
    }),
  handler: async (args) => {
    const db = await auditDbPath(args);
    const trust = await trustListOf(args);
    const reports = isCentralUrl(db) ? await centralLogReports(db, trust, []) : [localLogReport(db, trust, [], auditDbSource(args))];
    const atUs = nowMicros();
    const anchors: Anchor[] = [];
    for (const { logId, label, report } of reports) {
      // Only what verifies is vouched for: a log with findings (a replaced origin aside) is left for an operator.
      const blocking = report.findings.filter((f) => f.kind !== 'discontinuity');
      if (logId === undefined || blocking.length > 0) {
        out(`${label}not anchored: ${logId === undefined ? 'no log id yet' : `verify finds ${blocking.length} problems`}\n`);
        process.exitCode = 1;
        continue;
      }
      const { sealSeq, sealHash, loginSeq, loginHash } = report.heads;
      anchors.push({ atUs, logId, node: report.signing.node, sealSeq, sealHash, loginSeq, loginHash });
      out(`${label}anchored at seal ${sealSeq}, login attempt ${loginSeq}\n`);
    }
    if (anchors.length > 0) await writeAnchors(args.to, anchors);
    out(`${anchors.length} logs anchored to ${isPostgresTarget(args.to) ? 'the database given' : args.to}\n`);
  },
};
