import type { CommandModule } from 'yargs';
import { nowMicros } from '../../audit/audit-event.js';
import { durationText, isoFromUs, table } from '../format.js';
import { parseInstantUs } from '../parse-time.js';
import { identityText } from '../identity-text.js';
import { sessionJson } from '../session-json.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import { UsageError } from '../../idgate-error.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface SessionsArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly identity?: string | undefined;
  readonly label?: string | undefined;
  readonly connection?: string | undefined;
  readonly node?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly 'end-reason'?: string | undefined;
  readonly limit?: number | undefined;
  readonly json: boolean;
}

/** A count the row may not know (a session still open, lost with its gateway, or recorded before rows were counted). */
function countText(n: number | null | undefined): string {
  return n === null || n === undefined ? '' : String(n);
}

export const sessionsCommand: CommandModule<object, SessionsArgs> = {
  ...COMMAND_SUMMARIES.sessions,
  builder: (y) =>
    y
      .options(dbOptions)
      .option('identity', { type: 'string', describe: 'object id, app id or display name (what Entra vouches for)' })
      .option('label', { type: 'string', describe: "the client's own startup user label (not verified: any agent can send any)" })
      .option('connection', { type: 'string', describe: 'connection name' })
      .option('node', { type: 'string', describe: 'the fleet node (node-id) that served the session' })
      .option('since', { type: 'string', describe: 'started after: a duration back (2h, 7d) or an ISO date' })
      .option('until', { type: 'string', describe: 'started before: a duration back or an ISO date' })
      .option('end-reason', { type: 'string', describe: 'how it ended (identity-disabled, client-terminated, …; open: not ended)' })
      .option('limit', { type: 'number', describe: 'only the most recent N sessions (still listed oldest first)' })
      .check((a) => {
        if (a.limit !== undefined && !(Number.isInteger(a.limit) && a.limit > 0)) {
          throw new UsageError('bad-argument', '--limit: a whole number above 0');
        }
        return true;
      })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' }),
  handler: async (args) => {
    const now = nowMicros();
    const { reader, close } = await openAudit(args, { kind: 'sessions' });
    try {
      const rows = reader.sessions({
        ...(args.identity !== undefined ? { identity: args.identity } : {}),
        ...(args.label !== undefined ? { label: args.label } : {}),
        ...(args.connection !== undefined ? { connection: args.connection } : {}),
        ...(args.node !== undefined ? { node: args.node } : {}),
        ...(args.since !== undefined ? { sinceUs: parseInstantUs(args.since, now) } : {}),
        ...(args.until !== undefined ? { untilUs: parseInstantUs(args.until, now) } : {}),
        ...(args['end-reason'] !== undefined ? { endReason: args['end-reason'] } : {}),
        ...(args.limit !== undefined ? { newest: args.limit } : {}),
      });
      if (args.json) {
        for (const r of rows) out(`${JSON.stringify(sessionJson(r))}\n`);
        return;
      }
      out(
        `${table(
          [
            'id',
            'node',
            'start',
            'duration',
            'identity',
            'connection',
            'statements',
            'errors',
            'rows sent',
            'rows written',
            'bytes sent',
            'end reason',
          ],
          rows.map((r) => [
            r.id,
            r.node_id ?? '',
            isoFromUs(r.started_at_us),
            r.ended_at_us === null ? 'open' : durationText(r.ended_at_us - r.started_at_us),
            identityText(r.display_name, r.app_id),
            r.connection,
            String(r.statements),
            String(r.errors),
            countText(r.rows_returned),
            countText(r.rows_affected),
            countText(r.bytes_to_client),
            r.end_reason ?? '',
          ]),
        )}\n`,
      );
    } finally {
      close();
    }
  },
};
