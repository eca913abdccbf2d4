import yargs, { type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { WireProtocol } from '../protocol.js';
import { err } from './output.js';
import { COMMAND_SUMMARIES } from './command-summaries.js';
import { InvariantError } from '../idgate-error.js';

/** Loads the wire protocol: only the commands that read or serve sessions need it. */
export type LoadProtocol = () => Promise<WireProtocol>;

/** Adds one command to the parser, once its module is loaded. */
type Register = (y: Argv, protocol: LoadProtocol) => Promise<Argv>;

function command<U>(load: (protocol: LoadProtocol) => Promise<CommandModule<object, U>>): Register {
  return async (y, protocol) => y.command(await load(protocol));
}

/**
 * Every command, in the order `idgate --help` lists them, each loaded only when it runs: a script's
 * `idgate sessions` or `idgate verify` does not load the gateway, Entra's libraries or the SQL parser.
 */
const COMMANDS: Readonly<Record<string, Register>> = {
  serve: command(async (p) => (await import('./commands/serve.js')).serveCommand(await p())),
  check: command(async (p) => (await import('./commands/check.js')).checkCommand(await p())),
  'audit-migrate': command(async () => (await import('./commands/audit-migrate.js')).auditMigrateCommand),
  reach: command(async () => (await import('./commands/reach.js')).reachCommand),
  identities: command(async (p) => (await import('./commands/identities.js')).identitiesCommand(await p())),
  usage: command(async (p) => (await import('./commands/usage.js')).usageCommand(await p())),
  status: command(async () => (await import('./commands/status.js')).statusCommand),
  terminate: command(async () => (await import('./commands/terminate.js')).terminateCommand),
  approvals: command(async () => (await import('./commands/approvals.js')).approvalsCommand),
  approve: command(async () => (await import('./commands/decide-approval.js')).decideCommand(true)),
  refuse: command(async () => (await import('./commands/decide-approval.js')).decideCommand(false)),
  dev: command(async (p) => (await import('./commands/dev.js')).devCommand(await p())),
  sessions: command(async () => (await import('./commands/sessions.js')).sessionsCommand),
  show: command(async (p) => (await import('./commands/show.js')).showCommand(await p())),
  replay: command(async (p) => (await import('./commands/replay.js')).replayCommand(await p())),
  verify: command(async () => (await import('./commands/verify.js')).verifyCommand),
  keygen: command(async () => (await import('./commands/keygen.js')).keygenCommand),
  anchor: command(async () => (await import('./commands/anchor.js')).anchorCommand),
  prune: command(async () => (await import('./commands/prune.js')).pruneCommand),
  export: command(async (p) => (await import('./commands/export.js')).exportCommand(await p())),
  token: command(async () => (await import('./commands/token.js')).tokenCommand),
};

/**
 * A command as listed, not loaded: its name and description, for `--help` and for the error about
 * an unknown command. yargs runs a handler only for the command named on the command line, and a
 * named command is always loaded for real (`commandsFor`), so this handler is never reached.
 */
function listed(name: keyof typeof COMMAND_SUMMARIES): Register {
  return (y) =>
    Promise.resolve(
      y.command({
        ...COMMAND_SUMMARIES[name],
        handler: () => {
          throw new InvariantError(`the listed command ${name} ran without its module`);
        },
      }),
    );
}

/**
 * The commands to register: the one the command line names (wherever it stands, after options
 * too), loaded; none for a bare `--version` (yargs answers it before it looks for a command); for
 * anything else (--help, no command, an unknown word), every command as listed, so help and errors
 * name them all without loading any (loading all of them cost `idgate --help` 0.6 s of CPU).
 */
function commandsFor(args: readonly string[]): Register[] {
  const named = args.find((a) => Object.hasOwn(COMMANDS, a));
  if (named !== undefined) return [COMMANDS[named] as Register];
  if (args.includes('--version') && !args.includes('--help') && !args.some((a) => !a.startsWith('-'))) return [];
  return (Object.keys(COMMAND_SUMMARIES) as (keyof typeof COMMAND_SUMMARIES)[]).map(listed);
}

/** Exit status when the reader of our output went away: what a shell reports for a process killed by SIGPIPE (128 + 13). */
const CLOSED_PIPE_STATUS = 141;

/**
 * A reader that stops early (`idgate show … | head`) closes the pipe: the command stops at once,
 * without a message, with the status of a Unix filter killed by SIGPIPE (Node ignores the signal
 * and would report an unhandled EPIPE instead). Not 0: a `verify` cut short must not look like one
 * that passed.
 */
function stopOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(CLOSED_PIPE_STATUS);
    });
  }
}

/** Where to read on after a wrong argument: the command's own help when a known command was named. */
function hintFor(args: readonly string[]): string {
  const named = args.find((a) => !a.startsWith('-'));
  return named !== undefined && named in COMMANDS ? `idgate ${named} --help lists its options.` : 'idgate --help lists the commands.';
}

/** The `idgate` command line: one yargs command per file under commands/, reading and serving through the protocol `protocol` loads. */
export async function runCli(argv: string[], protocol: LoadProtocol): Promise<void> {
  stopOnClosedPipe();
  const args = hideBin(argv);
  let parser = yargs(args).scriptName('idgate');
  for (const register of commandsFor(args)) parser = await register(parser, protocol);
  // yargs lays out a command's help as the command starts, in case it fails; this CLI never shows
  // it then (a wrong argument gets one line), so unless help was asked for it is laid out unwrapped.
  if (!args.includes('--help')) parser = parser.wrap(null);
  await parser
    .demandCommand(1, 'name a command (idgate --help lists them)')
    .strict()
    .help()
    // yargs passes no error (despite its types) when the arguments, not a handler, were wrong.
    // A wrong argument gets its one-line reason and where to look, not the whole help.
    .fail((message: string, error: Error | undefined) => {
      if (error) err(`${error.message}\n`);
      else err(`idgate: ${message}\n${hintFor(args)}\n`);
      process.exit(2);
    })
    .parseAsync();
}
