import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { NodeKey } from '../../signing/node-key.js';
import { loadConfigFile, READ_ONLY } from '../../config/load-config.js';
import { nowMicros } from '../../audit/audit-event.js';
import { openAuditDatabase } from '../../audit/audit-store.js';
import { centralTarget, connectCentral } from '../../audit/central/central-target.js';
import { pruneCentral } from '../../audit/central/prune-central.js';
import { pruneAudit } from '../../audit/prune-audit.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { parseDurationUs } from '../parse-time.js';
import { auditDbPath, dbOptions, isCentralUrl } from '../options/db-option.js';
import { UsageError } from '../../idgate-error.js';

interface PruneArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'older-than': string;
}

export const pruneCommand: CommandModule<object, PruneArgs> = {
  command: 'prune',
  describe: 'delete sessions and login attempts older than a duration, leaving a checkpoint verify accepts',
  builder: (y) => y.options(dbOptions).option('older-than', { type: 'string', demandOption: true, describe: 'e.g. 90d, 12w, 36h' }),
  handler: async (args) => {
    const age = parseDurationUs(args['older-than']);
    if (age === undefined) {
      throw new UsageError('bad-argument', `--older-than ${args['older-than']}: expected a duration such as 90d, 12w or 36h`);
    }
    const path = auditDbPath(args);
    const now = nowMicros();
    if (isCentralUrl(path)) {
      const client = await connectCentral(centralTarget(parsePostgresUrl(path, '--db')), 'idgate prune');
      try {
        const result = await pruneCentral(client, now - age, now);
        process.stdout.write(
          `pruned ${result.sessions} sessions (${result.events} events) and ${result.logins} login attempts from the central store\n`,
        );
      } finally {
        await client.end();
      }
      return;
    }
    const signingKey = existsSync(args.config) ? loadConfigFile(args.config, process.env, READ_ONLY).signingKey : undefined;
    const db = openAuditDatabase(path);
    try {
      const result = pruneAudit(db, now - age, now, signingKey === undefined ? undefined : NodeKey.fromPem(signingKey.reveal()));
      process.stdout.write(`pruned ${result.sessions} sessions (${result.events} events) and ${result.logins} login attempts\n`);
    } finally {
      db.close();
    }
  },
};
