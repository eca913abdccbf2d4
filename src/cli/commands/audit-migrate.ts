import type { CommandModule } from 'yargs';
import { migrateCentral } from '../../audit/central/central-schema.js';
import { centralTarget, connectCentral, describeTarget } from '../../audit/central/central-target.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { UsageError } from '../../idgate-error.js';
import { out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface AuditMigrateArgs {
  readonly url: string;
  readonly 'writer-role'?: string | undefined;
  readonly node?: string | undefined;
}

export const auditMigrateCommand: CommandModule<object, AuditMigrateArgs> = {
  ...COMMAND_SUMMARIES['audit-migrate'],
  builder: (y) =>
    y
      .option('url', {
        type: 'string',
        demandOption: true,
        describe: 'the central store as the owner role: postgres://owner@host/db (libpq rules; password from the URL or PGPASSWORD)',
      })
      .option('writer-role', {
        type: 'string',
        describe: "the gateways' role in recordings.central.url: granted USAGE, SELECT and INSERT, nothing else",
      })
      .option('node', {
        type: 'string',
        describe: "bind --writer-role to this node id: it may insert only that node's rows (and its workers'); one role per node",
      }),
  handler: async (args) => {
    if (args.node !== undefined && args['writer-role'] === undefined) {
      throw new UsageError('bad-argument', '--node binds a writer role to a node: give --writer-role too');
    }
    const target = centralTarget(parsePostgresUrl(args.url, '--url'));
    const client = await connectCentral(target, 'idgate audit-migrate');
    try {
      const { from, to } = await migrateCentral(client, args['writer-role'], args.node);
      const grant =
        args['writer-role'] === undefined
          ? ''
          : `; ${args['writer-role']} may INSERT and SELECT${args.node === undefined ? ' (any node: a shared writer)' : `, only node ${args.node}'s rows`}`;
      out(
        `${describeTarget(target)}: central audit schema ${from === to ? `already at version ${to}` : `migrated from version ${from} to ${to}`}${grant}\n`,
      );
    } finally {
      await client.end();
    }
  },
};
