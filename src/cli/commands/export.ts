import type { CommandModule } from 'yargs';
import { nowMicros } from '../../audit/audit-event.js';
import { isoFromUs } from '../format.js';
import { parseInstantUs } from '../parse-time.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import { sessionJson } from '../session-json.js';
import type { WireProtocol } from '../../protocol.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface ExportArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly since?: string | undefined;
}

export function exportCommand(protocol: WireProtocol): CommandModule<object, ExportArgs> {
  return {
    ...COMMAND_SUMMARIES.export,
    builder: (y) => y.options(dbOptions).option('since', { type: 'string', describe: 'a duration back (24h) or an ISO date' }),
    handler: async (args) => {
      const sinceUs = args.since === undefined ? 0 : parseInstantUs(args.since, nowMicros());
      const { reader, close } = await openAudit(args, { kind: 'all' });
      const write = (o: unknown): boolean => out(`${JSON.stringify(o)}\n`);
      try {
        for (const l of reader.logins(sinceUs)) {
          write({
            type: 'login',
            seq: l.seq,
            at: isoFromUs(l.at_us),
            atUs: l.at_us,
            accepted: l.accepted === 1,
            reason: l.reason,
            message: l.message,
            sessionId: l.session_id,
            objectId: l.identity_oid,
            appId: l.app_id,
            connection: l.connection,
            clientUser: l.client_user,
            clientAddress: l.client_address,
            node: l.node_id,
            hash: l.hash,
          });
        }
        for (const s of reader.sessions({ sinceUs })) {
          write(sessionJson(s));
          for (const e of reader.events(s.id)) {
            // One line per stored event, with its chain hash; raw frames decoded into `messages`.
            const messages = [...protocol.expandEvents([e])].map((m) => ({ kind: m.kind, ...m.data }));
            write({
              type: 'event',
              sessionId: s.id,
              seq: e.seq,
              at: isoFromUs(e.at_us),
              atUs: e.at_us,
              direction: e.direction,
              messages,
              hash: e.hash,
            });
          }
        }
      } finally {
        close();
      }
    },
  };
}
