import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Options } from 'yargs';
import { AuditReader } from '../../audit/audit-reader.js';
import { copyCentral, type CentralScope } from '../../audit/central/central-copy.js';
import { loadConfigFile, READ_ONLY } from '../../config/load-config.js';
import { connectCentralFor, openAuditReader } from './audit-source.js';

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

/** --db, else the configuration's recordings.path. */
export function auditDbPath(args: DbArgs): string {
  if (args.db !== undefined) return args.db;
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
  const db = auditDbPath(args);
  if (!isCentralUrl(db)) {
    const reader = openAuditReader(db, auditDbSource(args));
    return { reader, close: () => reader.close() };
  }
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

/** Copies `scope` of the central store at `url` into a fresh temporary database; returns its path. */
export async function copyFromCentral(url: string, scope: CentralScope): Promise<string> {
  const client = await connectCentralFor(url, 'idgate cli');
  const path = join(mkdtempSync(join(tmpdir(), 'idgate-central-')), 'central.db');
  try {
    await copyCentral(client, scope, path);
    return path;
  } catch (e) {
    rmSync(join(path, '..'), { recursive: true, force: true });
    throw e;
  } finally {
    await client.end();
  }
}
