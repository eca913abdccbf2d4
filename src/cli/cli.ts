import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { auditMigrateCommand } from './commands/audit-migrate.js';
import { checkCommand } from './commands/check.js';
import { devCommand } from './commands/dev.js';
import { exportCommand } from './commands/export.js';
import { identitiesCommand } from './commands/identities.js';
import { pruneCommand } from './commands/prune.js';
import { reachCommand } from './commands/reach.js';
import { replayCommand } from './commands/replay.js';
import { serveCommand } from './commands/serve.js';
import { sessionsCommand } from './commands/sessions.js';
import { showCommand } from './commands/show.js';
import { statusCommand } from './commands/status.js';
import { terminateCommand } from './commands/terminate.js';
import { tokenCommand } from './commands/token.js';
import { usageCommand } from './commands/usage.js';
import { verifyCommand } from './commands/verify.js';
import { keygenCommand } from './commands/keygen.js';
import { anchorCommand } from './commands/anchor.js';
import type { WireProtocol } from '../protocol.js';

/** The `idgate` command line: one yargs command per file under commands/, reading and serving through `protocol`. */
export async function runCli(argv: string[], protocol: WireProtocol): Promise<void> {
  await yargs(hideBin(argv))
    .scriptName('idgate')
    .command(serveCommand(protocol))
    .command(checkCommand(protocol))
    .command(auditMigrateCommand)
    .command(reachCommand)
    .command(identitiesCommand(protocol))
    .command(usageCommand(protocol))
    .command(statusCommand)
    .command(terminateCommand)
    .command(devCommand(protocol))
    .command(sessionsCommand)
    .command(showCommand(protocol))
    .command(replayCommand(protocol))
    .command(verifyCommand)
    .command(keygenCommand)
    .command(anchorCommand)
    .command(pruneCommand)
    .command(exportCommand(protocol))
    .command(tokenCommand)
    .demandCommand(1, 'name a command (idgate --help lists them)')
    .strict()
    .help()
    // yargs passes no error (despite its types) when the arguments, not a handler, were wrong.
    .fail((message: string, error: Error | undefined, y) => {
      if (error) process.stderr.write(`${error.message}\n`);
      else y.showHelp((help: string) => process.stderr.write(`${help}\n\n${message}\n`));
      process.exit(2);
    })
    .parseAsync();
}
