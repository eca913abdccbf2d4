import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'yargs';
import { AuditReader } from '../../audit/audit-reader.js';
import type { CentralScope } from '../../audit/central/central-copy.js';
import { openAuditReader } from './audit-source.js';

export const dbOptions = {
  db: {
    type: 'string',
    describe: 'audit database: a SQLite file, or the central store as a postgres:// URL (default: recordings.path of the config)',
  },
  config: { alias: 'c', type: 'string', default: 'idgate.yaml', describe: 'configuration file, for its recordings.path' },
} as const satisfies Record<string, Options>;

interface DbArgs {
  readonly db?: string | undefined;
  readonly config: string;
}

/**
 * --db, else the configuration's recordings.path. The configuration's reader (its schema, the YAML
 * parser: ~1 MB of bundled code) is loaded only when it is needed.
 */
export async function auditDbPath(args: DbArgs): Promise<string> {
  if (args.db !== undefined) return args.db;
  const { loadConfigFile, READ_ONLY } = await import('../../config/load-config.js');
  return loadConfigFile(args.config, process.env, READ_ONLY).recordingsPath;
}

/** Where the audit database's path came from, for a message about it. */
export function auditDbSource(args: DbArgs): string {
  return args.db !== undefined ? '--db' : `recordings.path (${args.config})`;
}

/** Whether --db names the central store rather than a local file. */
export function isCentralUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** A reader of the audit log --db names; `close` also removes the local copy of a central store. */
export interface OpenedAudit {
  readonly reader: AuditReader;
  readonly close: () => void;
}

/**
 * Opens the audit log for a reading command: a SQLite file as it is; the central store (a
 * postgres:// URL, libpq's rules) by copying what the command needs (`scope`) into a temporary
 * local database, so the command runs the same code on either.
 */
export async function openAudit(args: DbArgs, scope: CentralScope): Promise<OpenedAudit> {
  const db = await auditDbPath(args);
  if (!isCentralUrl(db)) {
    const reader = openAuditReader(db, auditDbSource(args));
    return { reader, close: () => reader.close() };
  }
  const { copyFromCentral } = await import('./central-source.js');
  const path = await copyFromCentral(db, scope);
  const reader = new AuditReader(path);
  return {
    reader,
    close: () => {
      reader.close();
      rmSync(join(path, '..'), { recursive: true, force: true });
    },
  };
}
