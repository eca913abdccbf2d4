import { runCli } from './cli/cli.js';

/**
 * The composition root: the one file in src/ that names a wire protocol. Everything else in src/
 * is protocol-independent and reaches Postgres through the WireProtocol interface given here,
 * loaded when a command needs it (most of the CLI does not).
 */
export function main(argv: string[]): Promise<void> {
  return runCli(argv, async () => (await import('../protocols/postgres/index.js')).postgres);
}
