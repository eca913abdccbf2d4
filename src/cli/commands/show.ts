import type { CommandModule } from 'yargs';
import { buildTranscript, expandEvents } from '../../../protocols/postgres/index.js';
import { type AuditReader, type SessionRow } from '../../audit/audit-reader.js';
import type { TranscriptEntry } from '../../audit/transcript.js';
import { entryText, headerText } from '../transcript-text.js';
import { dbOptions, openAudit } from './db-option.js';
import { sessionJson } from './sessions.js';
import { UsageError } from '../../idgate-error.js';

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
  handler: async (args) => {
    const { reader, close } = await openAudit(args, { kind: 'session', idPrefix: args.session });
    try {
      const session = reader.session(args.session);
      if (session === undefined) throw new UsageError('no-such-session', `no session ${args.session} in the audit database`);
      const entries = transcriptOf(reader, session);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(sessionJson(session))}\n`);
        for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
        return;
      }
      process.stdout.write(`${headerText(session)}\n\n`);
      for (const e of entries) process.stdout.write(`${entryText(e)}\n`);
    } finally {
      close();
    }
  },
};

export function transcriptOf(reader: AuditReader, session: SessionRow): TranscriptEntry[] {
  return buildTranscript(expandEvents(reader.events(session.id)), session.started_at_us);
}
