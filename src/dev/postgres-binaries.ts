import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Where the PostgreSQL server binaries are: $IDGATE_PG_BIN, else the newest Debian-style
 * /usr/lib/postgresql/N/bin, else a directory on PATH that holds initdb.
 */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  if (env['IDGATE_PG_BIN']) candidates.push(env['IDGATE_PG_BIN']);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, 'bin')));
  }
  candidates.push(...(env['PATH'] ?? '').split(delimiter).filter((p) => p !== ''));
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  if (found === undefined) {
    throw new Error('PostgreSQL server binaries (initdb, postgres) not found: install the postgresql package or set IDGATE_PG_BIN');
  }
  return found;
}
