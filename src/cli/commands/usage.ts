import type { CommandModule } from 'yargs';
import { accessesOfStatements } from '../../../protocols/postgres/index.js';
import { nowMicros } from '../../audit/audit-event.js';
import { AuditReader, type SessionRow } from '../../audit/audit-reader.js';
import type { TranscriptStatement } from '../../audit/transcript.js';
import { loadConfigFile } from '../../config/load-config.js';
import { isWiderThanUsed, UsedAccess } from '../../policy/usage.js';
import { isoFromUs, table } from '../format.js';
import { parseInstantUs } from '../parse-time.js';
import { auditDbPath, dbOptions } from './db-option.js';
import { transcriptOf } from './show.js';

interface UsageArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly since: string;
  readonly json: boolean;
}

/** What the gateway answers itself when it refuses a statement: such statements did nothing and are not usage. */
const REFUSALS = new Set(['42501', '0A000', '42601', '54000', '54001', '22021']);

interface Group {
  readonly appId: string;
  readonly who: string;
  readonly connection: string;
  readonly mapping: string;
  readonly granted: string;
  readonly statements: string[];
  sessions: number;
  lastUs: number;
}

export const usageCommand: CommandModule<object, UsageArgs> = {
  command: 'usage',
  describe: 'per identity and identity-map entry: the scope granted against the narrowest scope that admits what it actually ran (over-scoped)',
  builder: (y) =>
    y
      .options(dbOptions)
      .option('since', { type: 'string', default: '30d', describe: 'the window: a duration back (30d, 12h) or an ISO date' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' }),
  handler: async (args) => {
    const schemas = searchPaths(args.config);
    const reader = new AuditReader(auditDbPath(args));
    const groups = new Map<string, Group>();
    try {
      for (const s of reader.sessions({ sinceUs: parseInstantUs(args.since, nowMicros()) })) {
        const key = `${s.app_id}\u0000${s.mapping}\u0000${s.connection}`;
        let g = groups.get(key);
        if (g === undefined) groups.set(key, (g = newGroup(s)));
        g.sessions += 1;
        g.lastUs = Math.max(g.lastUs, s.started_at_us);
        g.statements.push(...ranStatements(reader, s));
      }
    } finally {
      reader.close();
    }
    const rows = [];
    for (const g of groups.values()) {
      const schema = schemas.get(g.connection) ?? 'public';
      const { accesses, unanalysable } = await accessesOfStatements(g.statements, schema);
      const used = new UsedAccess();
      for (const a of accesses) used.add(a);
      const narrowest = used.narrowestScope(schema);
      rows.push({ ...g, used: narrowest, overScoped: isWiderThanUsed(g.granted, narrowest, schema), unanalysable });
    }
    if (args.json) {
      for (const r of rows) {
        process.stdout.write(
          `${JSON.stringify({ appId: r.appId, identity: r.who, connection: r.connection, mapping: r.mapping, granted: r.granted, used: r.used, overScoped: r.overScoped, suggestion: r.overScoped ? r.used : null, sessions: r.sessions, statements: r.statements.length, unanalysable: r.unanalysable, lastSession: isoFromUs(r.lastUs) })}\n`,
        );
      }
      return;
    }
    process.stdout.write(
      `${table(
        ['identity', 'connection', 'entry', 'granted', 'used', 'over-scoped', 'sessions', 'statements', 'last session'],
        rows.map((r) => [r.who, r.connection, r.mapping, r.granted, r.used || '(nothing)', r.overScoped ? `yes: ${r.used || 'nothing'}` : 'no', String(r.sessions), String(r.statements.length), isoFromUs(r.lastUs)]),
      )}\n`,
    );
  },
};

function newGroup(s: SessionRow): Group {
  return { appId: s.app_id, who: `${s.display_name ?? s.client_user} (${s.app_id})`, connection: s.connection, mapping: s.mapping, granted: s.scope, statements: [], sessions: 0, lastUs: 0 };
}

/** The session's statements that ran: not those the gateway refused (their recorded outcome is the refusal). */
function ranStatements(reader: AuditReader, s: SessionRow): string[] {
  return transcriptOf(reader, s)
    .filter((e): e is TranscriptStatement => e.type === 'statement')
    .filter((st) => !(st.outcome.status === 'error' && st.outcome.sqlstate !== undefined && REFUSALS.has(st.outcome.sqlstate) && s.scope !== 'all'))
    .map((st) => st.sql);
}

/** The connections' search paths from the configuration, when there is one to read (unqualified tables are there). */
function searchPaths(configFile: string): Map<string, string> {
  try {
    return new Map([...loadConfigFile(configFile).connections.values()].map((c) => [c.name, c.searchPath]));
  } catch {
    return new Map();
  }
}
