import { postgres } from '../protocols/postgres/index.js';
import { runCli } from './cli/cli.js';

/**
 * The composition root: the one file in src/ that names a wire protocol. Everything else in src/
 * is protocol-independent and reaches Postgres through the WireProtocol interface given here.
 */
export function main(argv: string[]): Promise<void> {
  return runCli(argv, postgres);
}
