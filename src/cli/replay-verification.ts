import { UsageError } from '../idgate-error.js';
import { centralSessionLogReport, localLogReport, trustListOf, type LogReport } from './log-reports.js';
import { auditDbPath, auditDbSource, isCentralUrl } from './options/db-option.js';

interface VerificationArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'trusted-key'?: readonly string[] | undefined;
}

/**
 * `replay --execute` sends what the log holds to a database, so it sends only what `verify`
 * vouches for: the log holding the session (the local database, or the session's node log in the
 * central store) is verified first, with the configured trusted keys, and any finding refuses the
 * replay. Otherwise whoever could write the log file — not the agent, not the gateway — would
 * choose the statements a DBA's credentials run.
 */
export async function refuseUnverified(args: VerificationArgs, sessionId: string): Promise<void> {
  const db = await auditDbPath(args);
  const trust = await trustListOf(args);
  const log: LogReport | undefined = isCentralUrl(db)
    ? await centralSessionLogReport(db, trust, sessionId)
    : localLogReport(db, trust, [], auditDbSource(args));
  const findings = log?.report.findings ?? [];
  const first = findings[0];
  if (log !== undefined && first === undefined) return;
  const why =
    first === undefined
      ? 'the central store holds no log for it'
      : `${findings.length} finding${findings.length === 1 ? '' : 's'}, the first: ${first.kind} ${first.where}: ${first.detail}`;
  throw new UsageError(
    'refused',
    `refusing to replay session ${sessionId}: its log does not verify (${why}); idgate verify shows what is wrong — --unverified replays it anyway`,
  );
}
