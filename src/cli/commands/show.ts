import type { CommandModule } from 'yargs';
import { endText, entryText, headerText } from '../transcript-text.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import { sessionJson } from '../session-json.js';
import { transcriptOf } from '../session-transcript.js';
import { UsageError } from '../../idgate-error.js';
import type { WireProtocol } from '../../protocol.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface ShowArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly session: string;
  readonly json: boolean;
}

export function showCommand(protocol: WireProtocol): CommandModule<object, ShowArgs> {
  return {
    ...COMMAND_SUMMARIES.show,
    builder: (y) =>
      y
        .positional('session', { type: 'string', demandOption: true, describe: 'session id (or a unique prefix)' })
        .options(dbOptions)
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line (see docs/audit-log.md)' }),
    handler: async (args) => {
      const { reader, close } = await openAudit(args, { kind: 'session', idPrefix: args.session });
      try {
        const session = reader.session(args.session);
        if (session === undefined) throw new UsageError('no-such-session', `no session ${args.session} in the audit database`);
        const entries = transcriptOf(protocol, reader, session);
        if (args.json) {
          out(`${JSON.stringify(sessionJson(session))}\n`);
          for (const e of entries) out(`${JSON.stringify(e)}\n`);
          return;
        }
        out(`${headerText(session)}\n\n`);
        for (const e of entries) out(`${entryText(e)}\n`);
        out(`${endText(session)}\n`);
      } finally {
        close();
      }
    },
  };
}
