import type { CommandModule } from 'yargs';
import { buildTranscript, expandEvents } from '../../../protocols/postgres/index.js';
import { AuditReader, type SessionRow } from '../../audit/audit-reader.js';
import type { TranscriptEntry } from '../../audit/transcript.js';
import { durationText, isoFromUs } from '../format.js';
import { auditDbPath, dbOptions } from './db-option.js';
import { sessionJson } from './sessions.js';

interface ShowArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly session: string;
  readonly json: boolean;
}

export const showCommand: CommandModule<object, ShowArgs> = {
  command: 'show <session>',
  describe: 'print a whole session: its header, then every statement with parameters and outcome',
  builder: (y) =>
    y
      .positional('session', { type: 'string', demandOption: true, describe: 'session id (or a unique prefix)' })
      .options(dbOptions)
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line (see README)' }),
  handler: (args) => {
    const reader = new AuditReader(auditDbPath(args));
    try {
      const session = reader.session(args.session);
      if (session === undefined) throw new Error(`no session ${args.session} in the audit database`);
      const entries = transcriptOf(reader, session);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(sessionJson(session))}\n`);
        for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      process.stdout.write(`${headerText(session)}\n\n`);
      for (const e of entries) process.stdout.write(`${entryText(e)}\n`);
    } finally {
      reader.close();
    }
  },
};

export function transcriptOf(reader: AuditReader, session: SessionRow): TranscriptEntry[] {
  return buildTranscript(expandEvents(reader.events(session.id)), session.started_at_us);
}

function headerText(s: SessionRow): string {
  return [
    `session    ${s.id}`,
    `identity   ${s.display_name ?? '(no name)'}  oid ${s.identity_oid}  app ${s.app_id}  tenant ${s.tenant_id}`,
    `client     ${s.client_user} from ${s.client_address}${s.client_tls ? ' (TLS)' : ''}`,
    `granted by ${s.mapping} → ${s.connection} (scope ${s.scope}, record ${s.record_mode})`,
    `upstream   ${s.upstream}`,
    `started    ${isoFromUs(s.started_at_us)}`,
    `ended      ${s.ended_at_us === null ? '(open)' : `${isoFromUs(s.ended_at_us)} (${s.end_reason ?? ''}, ${durationText(s.ended_at_us - s.started_at_us)})`}`,
    `statements ${s.statements}, errors ${s.errors}, bytes ${s.bytes_from_client ?? 0} in / ${s.bytes_to_client ?? 0} out`,
  ].join('\n');
}

function entryText(e: TranscriptEntry): string {
  const at = `+${durationText(e.offsetUs)}`.padStart(12);
  if (e.type === 'note') return `${at}  -- ${e.kind}${e.detail ? `: ${e.detail}` : ''}`;
  const o = e.outcome;
  const outcome =
    o.status === 'error'
      ? `ERROR ${o.sqlstate ?? ''} ${o.message ?? ''}`
      : o.status === 'ok'
        ? o.results.map((r) => r.tag).join(', ')
        : o.status.toUpperCase();
  const lines = [`${at}  #${e.n} ${e.sql.replace(/\s+/g, ' ').trim()}`];
  if (e.params !== undefined && e.params.length > 0) lines.push(`${' '.repeat(14)}params ${JSON.stringify(e.params)}`);
  if (e.copyBytes !== undefined) lines.push(`${' '.repeat(14)}copy data ${e.copyBytes} bytes`);
  lines.push(`${' '.repeat(14)}→ ${outcome}${e.durationUs !== null ? ` (${durationText(e.durationUs)})` : ''}`);
  for (const n of e.notices ?? []) lines.push(`${' '.repeat(14)}${n}`);
  return lines.join('\n');
}
