import { existsSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { NodeKey } from '../../signing/node-key.js';
import { loadConfigFile, READ_ONLY } from '../../config/load-config.js';
import { nowMicros } from '../../audit/audit-event.js';
import { openAuditDatabase } from '../../audit/audit-store.js';
import { pruneCentral } from '../../audit/central/prune-central.js';
import { pruneAudit, type PruneResult } from '../../audit/prune-audit.js';
import { parseDurationUs } from '../parse-time.js';
import { auditDbPath, auditDbSource, dbOptions, isCentralUrl } from '../options/db-option.js';
import { openAuditReader } from '../options/audit-source.js';
import { connectCentralFor } from '../options/central-source.js';
import { UsageError } from '../../idgate-error.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface PruneArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly 'older-than': string;
  readonly 'dry-run': boolean;
}

export const pruneCommand: CommandModule<object, PruneArgs> = {
  ...COMMAND_SUMMARIES.prune,
  builder: (y) =>
    y
      .options(dbOptions)
      .option('older-than', { type: 'string', demandOption: true, describe: 'e.g. 90d, 12w, 36h' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be pruned, prune nothing' }),
  handler: async (args) => {
    const age = parseDurationUs(args['older-than']);
    if (age === undefined) {
      throw new UsageError('bad-argument', `--older-than ${args['older-than']}: expected a duration such as 90d, 12w or 36h`);
    }
    const path = await auditDbPath(args);
    const now = nowMicros();
    if (isCentralUrl(path)) {
      const client = await connectCentralFor(path, 'idgate prune');
      try {
        const result = await pruneCentral(client, now - age, now, args['dry-run']);
        out(`${pruned(result, args['dry-run'])} from the central store\n`);
      } finally {
        await client.end();
      }
      return;
    }
    const signingKey = existsSync(args.config) ? loadConfigFile(args.config, process.env, READ_ONLY).signingKey : undefined;
    // Checked as the reading commands check it (a mistyped path must not become a new, empty log).
    openAuditReader(path, auditDbSource(args)).close();
    const db = openAuditDatabase(path);
    try {
      const key = signingKey === undefined ? undefined : NodeKey.fromPem(signingKey.reveal());
      const result = pruneAudit(db, now - age, now, key, args['dry-run']);
      out(`${pruned(result, args['dry-run'])}\n`);
    } finally {
      db.close();
    }
  },
};

function pruned(result: PruneResult, dryRun: boolean): string {
  return `${dryRun ? 'would prune' : 'pruned'} ${result.sessions} sessions (${result.events} events) and ${result.logins} login attempts`;
}
