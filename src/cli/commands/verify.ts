import type { CommandModule } from 'yargs';
import type { Anchor } from '../../audit/anchor-record.js';
import { readAnchors } from '../../audit/anchor-target.js';
import type { VerifyReport } from '../../audit/verify-audit.js';
import { centralLogReports, localLogReport, trustedKeyOption, trustListOf, type LogReport } from '../log-reports.js';
import { auditDbPath, auditDbSource, dbOptions, isCentralUrl } from '../options/db-option.js';
import { oneLine, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface VerifyArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'trusted-key'?: readonly string[] | undefined;
  readonly anchors?: string | undefined;
  readonly json: boolean;
}

export const verifyCommand: CommandModule<object, VerifyArgs> = {
  ...COMMAND_SUMMARIES.verify,
  builder: (y) =>
    y
      .options(dbOptions)
      .option('trusted-key', trustedKeyOption)
      .option('anchors', {
        type: 'string',
        describe:
          'an anchor target (a file, or postgres://… with table idgate_anchors): the logs must still reach every head anchored there',
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'one JSON object per log, then one with the verdict (see docs/audit-log.md)',
      }),
  handler: async (args) => {
    const db = await auditDbPath(args);
    const trust = await trustListOf(args);
    const anchors = args.anchors === undefined ? [] : await readAnchors(args.anchors);
    const reports = isCentralUrl(db)
      ? await centralLogReports(db, trust, anchors)
      : [localLogReport(db, trust, anchors, auditDbSource(args))];
    if (args.json) {
      const ok = printJson(reports, anchors, isCentralUrl(db));
      if (!ok) process.exitCode = 1;
      return;
    }
    const ok = printReports(reports, anchors, isCentralUrl(db));
    if (isCentralUrl(db)) out(`${ok ? 'ok' : 'FAILED'}: ${reports.length} node logs in the central store\n`);
    if (!ok) process.exitCode = 1;
  },
};

/**
 * `--json`: a line per log (`type: "log"`: its id, whether it verifies, counts, findings, open
 * sessions, origin and signing), a line per anchored log the central store no longer holds
 * (`type: "deleted-log"`), then the verdict (`type: "result"`). The exit status is the same.
 */
function printJson(reports: readonly LogReport[], anchors: readonly Anchor[], central: boolean): boolean {
  const write = (o: unknown): boolean => out(`${JSON.stringify(o)}\n`);
  let ok = true;
  for (const { logId, report } of reports) {
    const verified = report.findings.length === 0;
    ok = verified && ok;
    const { findings, unsealed, sessions, events, logins, head, origin, signing } = report;
    write({
      type: 'log',
      logId: logId ?? null,
      ok: verified,
      sessions,
      events,
      logins,
      head,
      findings,
      open: unsealed,
      origin: origin ?? null,
      signing,
    });
  }
  const held = new Set(reports.map((r) => r.logId));
  const deleted = central ? [...new Set(anchors.map((a) => a.logId))].filter((id) => !held.has(id)) : [];
  for (const logId of deleted) write({ type: 'deleted-log', logId, detail: 'it was anchored, and the central store holds none of it' });
  ok = deleted.length === 0 && ok;
  write({ type: 'result', ok, logs: reports.length });
  return ok;
}

/** Prints every report; on the central store, a log another says it replaced has its open sessions shown as lost. */
function printReports(reports: readonly LogReport[], anchors: readonly Anchor[], central: boolean): boolean {
  const replacedBy = new Map<string, string>();
  for (const { logId, report } of reports) {
    const previous = report.origin?.previousLogId;
    if (report.origin?.kind === 'replaced' && previous !== null && previous !== undefined && previous !== logId) {
      replacedBy.set(previous, logId ?? '?');
    }
  }
  let ok = true;
  for (const { label, logId, report } of reports) {
    printReport(report, label, logId === undefined ? undefined : replacedBy.get(logId));
    ok = report.findings.length === 0 && ok;
  }
  // An anchored log the store no longer holds at all was removed whole.
  if (central) {
    const held = new Set(reports.map((r) => r.logId));
    for (const logId of new Set(anchors.map((a) => a.logId))) {
      if (held.has(logId)) continue;
      out(`TAMPERED (deleted) log ${oneLine(logId)}: it was anchored, and the central store holds none of it\n`);
      ok = false;
    }
  }
  return ok;
}

/** `replacedBy`: the log whose origin says it replaced this one (its database was removed): its open sessions were lost with it. */
function printReport(report: VerifyReport, rawLabel: string, replacedBy: string | undefined): void {
  // A central store's rows are written by the nodes: no value from them may start a line of its own.
  const label = oneLine(rawLabel);
  for (const f of report.findings) {
    out(
      `${label}TAMPERED (${f.kind}) ${oneLine(f.where)}${f.node === undefined ? '' : ` (node ${oneLine(f.node)})`}: ${oneLine(f.detail)}\n`,
    );
  }
  for (const id of report.unsealed) {
    out(
      replacedBy === undefined
        ? `${label}open: session ${oneLine(id)} has not ended (or the gateway stopped before ending it)\n`
        : `${label}lost: session ${oneLine(id)} was open when this log's database was removed (log ${oneLine(replacedBy)} replaced it); it will not be sealed\n`,
    );
  }
  if (report.origin?.kind === 'created') {
    const by = report.origin.nodeId === null ? '' : ` by node ${oneLine(report.origin.nodeId)}`;
    out(`${label}origin: this log was begun ${new Date(report.origin.atUs / 1000).toISOString()}${by}; nothing before it is known\n`);
  }
  printSigning(report, label);
  out(
    `${label}${report.findings.length === 0 ? 'ok' : 'FAILED'}: ${report.sessions} sessions, ${report.events} events, ${report.logins} login attempts; chain head ${report.head}\n`,
  );
}

function printSigning(report: VerifyReport, label: string): void {
  const { signing } = report;
  const node = signing.node === null ? 'the node' : `node ${oneLine(signing.node)}`;
  if (signing.keys.length === 0) {
    out(`${label}unsigned: ${node} had no signing key (recordings.signing-key-file); only the hash chains were checked\n`);
  }
  for (const k of signing.keys) {
    const since = new Date(k.sinceUs / 1000).toISOString();
    out(
      k.trust === 'trusted'
        ? `${label}signed: by ${node}'s key ${oneLine(k.publicKey)} (in the trust list) from ${since}\n`
        : `${label}WARNING: signed by ${oneLine(k.publicKey)} from ${since}, a key only the log itself names (pinned at first sight): this proves the rows were not changed since, not that ${node} wrote them; add it to recordings.trusted-nodes\n`,
    );
  }
  const { seals, logins } = signing.unsignedBefore;
  if (signing.keys.length > 0 && seals + logins > 0) {
    out(
      `${label}unsigned: ${seals} sealed sessions and ${logins} login attempts predate the key; its first row vouches for their chain heads\n`,
    );
  }
  for (const p of signing.prunes) {
    out(
      `${label}pruned ${new Date(p.atUs / 1000).toISOString()}: history before ${new Date(p.olderThanUs / 1000).toISOString()} removed (${p.sessions ?? '?'} sessions, ${p.logins ?? '?'} login attempts), ${p.signed ? 'signed by the node key' : 'unsigned'}\n`,
    );
  }
}
