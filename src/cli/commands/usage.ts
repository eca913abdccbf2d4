import type { CommandModule } from 'yargs';
import { nowMicros } from '../../audit/audit-event.js';
import { usageSince, type EntryUsage } from '../entry-usage.js';
import { isoFromUs, table } from '../format.js';
import { parseInstantUs } from '../parse-time.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import type { WireProtocol } from '../../protocol.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface UsageArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly since: string;
  readonly json: boolean;
}

export function usageCommand(protocol: WireProtocol): CommandModule<object, UsageArgs> {
  return {
    ...COMMAND_SUMMARIES.usage,
    builder: (y) =>
      y
        .options(dbOptions)
        .option('since', { type: 'string', default: '30d', describe: 'the window: a duration back (30d, 12h) or an ISO date' })
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' }),
    handler: async (args) => {
      const { reader, close } = await openAudit(args, { kind: 'all' });
      let rows: EntryUsage[];
      try {
        rows = await usageSince(protocol, reader, parseInstantUs(args.since, nowMicros()), args.config);
      } finally {
        close();
      }
      if (args.json) {
        for (const r of rows) {
          out(
            `${JSON.stringify({ appId: r.appId, identity: r.who, connection: r.connection, mapping: r.mapping, granted: r.granted, used: r.used, overScoped: r.overScoped, suggestion: r.overScoped ? r.used : null, sessions: r.sessions, statements: r.statements, unanalysable: r.unanalysable, rowsSent: r.rowsSent, rowsWritten: r.rowsWritten, bytesSent: r.bytesSent, lastSession: isoFromUs(r.lastUs) })}\n`,
          );
        }
        return;
      }
      out(
        `${table(
          [
            'identity',
            'connection',
            'entry',
            'granted',
            'used',
            'over-scoped',
            'sessions',
            'statements',
            'rows sent',
            'rows written',
            'bytes sent',
            'last session',
          ],
          rows.map((r) => [
            r.who,
            r.connection,
            r.mapping,
            r.granted,
            r.used || '(nothing)',
            r.overScoped ? `yes: ${r.used || 'nothing'}` : 'no',
            String(r.sessions),
            String(r.statements),
            String(r.rowsSent),
            String(r.rowsWritten),
            String(r.bytesSent),
            isoFromUs(r.lastUs),
          ]),
        )}\n`,
      );
    },
  };
}
