import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type pg from 'pg';
import { AuditReader } from '../../audit/audit-reader.js';
import { centralTarget, connectCentral } from '../../audit/central/central-target.js';
import { parsePostgresUrl } from '../../config/postgres-url.js';
import { errorMessage, UsageError } from '../../idgate-error.js';

/**
 * Opens a local audit database for reading, or says in one line what is wrong with the path it
 * was given (`what`: where the path came from, `--db` or the configuration's `recordings.path`).
 */
export function openAuditReader(path: string, what: string): AuditReader {
  if (!existsSync(path)) {
    const missing = existsSync(dirname(path)) ? 'no such file' : `no such directory (${dirname(path)})`;
    throw new UsageError('audit-unreadable', `${what} ${path}: ${missing}`);
  }
  if (statSync(path).isDirectory()) throw new UsageError('audit-unreadable', `${what} ${path}: a directory, not an audit database`);
  let reader: AuditReader | undefined;
  try {
    reader = new AuditReader(path);
    if (!reader.holdsAuditLog()) {
      throw new UsageError('audit-unreadable', `${what} ${path}: a SQLite database, but not an idgate audit log`);
    }
    return reader;
  } catch (e) {
    reader?.close();
    if (e instanceof UsageError) throw e;
    throw new UsageError('audit-unreadable', `${what} ${path}: not an audit database (${errorMessage(e)})`);
  }
}

/** Connects to the central store at `url` for a command, or says in one line why it cannot (never the password). */
export async function connectCentralFor(url: string, applicationName: string): Promise<pg.Client> {
  const target = centralTarget(parsePostgresUrl(url, '--db'));
  try {
    return await connectCentral(target, applicationName);
  } catch (e) {
    throw new UsageError('central-unreachable', `--db: cannot reach the central store at ${target.host}:${target.port}: ${why(e)}`);
  }
}

/** A connection failure in a few words: the system's error code, else the server's message. */
function why(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is it running, on that port?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'no such host';
    case 'ETIMEDOUT':
      return 'timed out';
    case '28P01':
    case '28000':
      return `login refused (${errorMessage(e)})`;
    default:
      return errorMessage(e);
  }
}
