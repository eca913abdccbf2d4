import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { AuditReader } from '../../audit/audit-reader.js';
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
