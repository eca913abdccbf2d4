import type { CommandModule } from 'yargs';
import type { ApprovalView, DecisionView } from '../../admin/approval-view.js';
import { UsageError } from '../../idgate-error.js';
import { adminOptions, adminProblem, adminRequest, adminTarget, type AdminArgs } from '../admin-client.js';
import { table } from '../format.js';
import { identityText } from '../identity-text.js';
import { oneLine, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface ApprovalsArgs extends AdminArgs {
  readonly id?: string | undefined;
  readonly json: boolean;
}

export const approvalsCommand: CommandModule<object, ApprovalsArgs> = {
  ...COMMAND_SUMMARIES.approvals,
  builder: (y) =>
    y
      .options(adminOptions)
      .positional('id', { type: 'string', describe: 'one request, shown whole' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' }),
  handler: async (args) => {
    const response = await adminRequest(adminTarget(args), 'GET', '/approvals');
    if (response.status !== 200) throw new UsageError('refused', `the admin endpoint refused: ${adminProblem(response)}`);
    const approvals = (response.body as { approvals: ApprovalView[] }).approvals.filter((a) => args.id === undefined || a.id === args.id);
    if (args.id !== undefined && approvals.length === 0) throw new UsageError('no-such-approval', `no approval request ${args.id}`);
    if (args.json) out(approvals.map((a) => `${JSON.stringify(a)}\n`).join(''));
    else if (args.id !== undefined && approvals[0] !== undefined) out(detailText(approvals[0]));
    else out(listText(approvals));
  },
};

function listText(approvals: readonly ApprovalView[]): string {
  const rows = approvals.map((a) => [
    a.id,
    // With two approvers required, a request approved once still waits: say so.
    a.state === 'pending' && a.approvals.length > 0 ? `pending, approved by ${a.approvals.map((p) => p.by).join(', ')}` : a.state,
    identityText(a.displayName, a.appId),
    a.connection,
    a.what,
    a.requestedAt,
    `${a.sql.replace(/\s+/g, ' ').trim()}${a.params === null ? '' : `  values ${a.params}`}`,
  ]);
  const waiting = approvals.filter((a) => a.state === 'pending').length;
  return `${table(['id', 'state', 'identity', 'connection', 'needs approval for', 'requested', 'statement'], rows)}\n${waiting} waiting\n`;
}

function decisionText(d: DecisionView): string {
  return `by ${oneLine(d.by)} (${oneLine(d.via)}, from ${oneLine(d.from)}) at ${d.at}: ${oneLine(d.reason)}`;
}

/** One request whole: the statement as sent (its own lines kept, escaped where a terminal would act), who asked, and the answer. */
function detailText(a: ApprovalView): string {
  const d = a.decision;
  return [
    `request     ${a.id} (${a.state})`,
    `identity    ${oneLine(identityText(a.displayName, a.appId))}  oid ${a.identity}`,
    `connection  ${oneLine(a.connection)} through ${oneLine(a.entry)}, session ${a.sessionId} on ${oneLine(a.node)}`,
    `needs       approval for ${oneLine(a.what)}`,
    `requested   ${a.requestedAt}`,
    `fingerprint ${a.fingerprint}`,
    ...(a.preview === null
      ? []
      : [
          `preview     ${'rows' in a.preview ? `would change ${a.preview.rows} rows (a dry run, rolled back)` : `none: ${oneLine(a.preview.problem)}`}`,
        ]),
    // Approvals given before the one that decided (a second approver required, or a refusal after one).
    ...a.approvals.filter((p) => d === null || p.at !== d.at || p.via !== d.via).map((p) => `approved    ${decisionText(p)}`),
    ...(d === null ? [] : [`decision    ${d.approve ? 'approved' : 'refused'} ${decisionText(d)}`]),
    ...(a.usedBy === null ? [] : [`ran in      session ${a.usedBy}`]),
    'statement:',
    a.sql,
    // A prepared statement's approval admits exactly these values: the approver must see them.
    ...(a.params === null ? [] : ['values ($1, $2, …):', a.params]),
    // What the text means depends on these too (a date read day-first, a time zone): it runs only in a session with the same.
    ...(a.settings === null ? [] : ['read with the session settings:', a.settings]),
    '',
  ].join('\n');
}
