import type { CommandModule } from 'yargs';
import type { SessionView } from '../../admin/session-view.js';
import { adminOptions, adminProblem, adminRequest, adminTarget, type AdminArgs, type AdminTarget } from '../admin-client.js';
import { table } from '../format.js';
import { identityText } from '../identity-text.js';
import { UsageError } from '../../idgate-error.js';
import { clearScreen, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface StatusArgs extends AdminArgs {
  readonly json: boolean;
  readonly watch?: number | undefined;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  ...COMMAND_SUMMARIES.status,
  builder: (y) =>
    y
      .options(adminOptions)
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per session and line' })
      .option('watch', { type: 'number', describe: 'refresh every this many seconds until interrupted' }),
  handler: async (args) => {
    const target = adminTarget(args);
    if (args.watch === undefined) {
      out(await statusText(target, args.json));
      return;
    }
    const everyMs = Math.max(0.5, args.watch) * 1000;
    for (;;) {
      const text = await statusText(target, args.json);
      clearScreen();
      out(`${new Date().toISOString()}  ${target.url}\n\n${text}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  },
};

async function statusText(target: AdminTarget, json: boolean): Promise<string> {
  const response = await adminRequest(target, 'GET', '/sessions');
  if (response.status !== 200) throw new UsageError('refused', `the admin endpoint refused: ${adminProblem(response)}`);
  const sessions = (response.body as { sessions: SessionView[] }).sessions;
  if (json) return sessions.map((s) => `${JSON.stringify(s)}\n`).join('');
  const now = Date.now();
  const rows = sessions.map((s) => [
    s.id,
    s.node,
    identityText(s.displayName, s.appId),
    s.connection,
    `${s.entry}: ${s.scope}`,
    s.clientAddress,
    ago(now, s.startedAt),
    s.state,
    s.lastStatementAt === null ? '' : ago(now, s.lastStatementAt),
    String(s.statements),
    `${s.rowsReturned}/${s.rowsAffected}`,
    `${s.bytesFromClient}/${s.bytesToClient}`,
  ]);
  const header = ['id', 'node', 'identity', 'connection', 'entry', 'client', 'started', 'state', 'last statement', 'statements'];
  return `${table([...header, 'rows sent/written', 'bytes in/out'], rows)}\n${sessions.length} live session${sessions.length === 1 ? '' : 's'}\n`;
}

function ago(now: number, iso: string): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}
