import { hostname, userInfo } from 'node:os';
import type { CommandModule } from 'yargs';
import type { ApprovalView } from '../../admin/approval-view.js';
import { adminOptions, adminProblem, adminRequest, adminTarget, type AdminArgs } from '../admin-client.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface DecideArgs extends AdminArgs {
  readonly id: string;
  readonly reason: string;
  readonly by?: string | undefined;
}

/** `idgate approve` and `idgate refuse`: one answer to one request, with a reason, recorded with who gave it. */
export function decideCommand(approve: boolean): CommandModule<object, DecideArgs> {
  const verb = approve ? 'approve' : 'refuse';
  return {
    ...COMMAND_SUMMARIES[verb],
    builder: (y) =>
      y
        .options(adminOptions)
        .positional('id', { type: 'string', demandOption: true, describe: 'the request id (idgate approvals lists them)' })
        .option('reason', { type: 'string', demandOption: true, describe: 'why: recorded with the decision' })
        .option('by', { type: 'string', describe: 'who decides, as recorded (default: user@host)' }),
    handler: async (args) => {
      const by = args.by ?? `${userInfo().username}@${hostname()}`;
      const response = await adminRequest(adminTarget(args), 'POST', `/approvals/${encodeURIComponent(args.id)}/${verb}`, {
        by,
        reason: args.reason,
      });
      if (response.status !== 200) {
        err(`not ${approve ? 'approved' : 'refused'}: ${adminProblem(response)}\n`);
        process.exitCode = 1;
        return;
      }
      const view = (response.body as { approval: ApprovalView }).approval;
      out(`${approve ? 'approved' : 'refused'} ${view.id}: ${view.what} (${view.connection})\n`);
    },
  };
}
