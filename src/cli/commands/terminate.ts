import { hostname, userInfo } from 'node:os';
import type { CommandModule } from 'yargs';
import { adminOptions, adminProblem, adminRequest, adminTarget, type AdminArgs } from '../admin-client.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface TerminateArgs extends AdminArgs {
  readonly session: string;
  readonly by?: string | undefined;
}

export const terminateCommand: CommandModule<object, TerminateArgs> = {
  ...COMMAND_SUMMARIES.terminate,
  builder: (y) =>
    y
      .options(adminOptions)
      .positional('session', { type: 'string', demandOption: true, describe: 'the session id (idgate status lists them)' })
      .option('by', { type: 'string', describe: 'who asks, as recorded in the audit log (default: user@host)' }),
  handler: async (args) => {
    const target = adminTarget(args);
    const by = args.by ?? `${userInfo().username}@${hostname()}`;
    const response = await adminRequest(target, 'POST', `/sessions/${encodeURIComponent(args.session)}/terminate`, { by });
    if (response.status !== 200) {
      err(`not terminated: ${adminProblem(response)}\n`);
      process.exitCode = 1;
      return;
    }
    out(`terminated ${args.session}\n`);
  },
};
