import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { AuditError } from './audit-error.js';

/**
 * One gateway writes one audit database: two writers would each continue the chains from what
 * they last saw and the log would no longer verify. A lock file next to the database names the
 * process holding it; a lock whose process is gone (a crash) is taken over. Local processes
 * only: the file does not protect a database on a shared network disk.
 */
export class WriterLock {
  private constructor(private readonly file: string) {}

  static acquire(databasePath: string): WriterLock {
    const file = `${databasePath}.lock`;
    const me = `${process.pid}@${hostname()}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, me);
        closeSync(fd);
        return new WriterLock(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = readHolder(file);
        if (holder !== undefined && holder.host === hostname() && isAlive(holder.pid)) {
          throw new AuditError(
            'audit-locked',
            `the audit database is being written by another idgate (process ${holder.pid}, lock ${file}): one gateway writes one database`,
          );
        }
        rmSync(file, { force: true }); // the holder is gone: take the lock over
      }
    }
    throw new AuditError('audit-locked', `could not take the audit database lock ${file}`);
  }

  release(): void {
    rmSync(this.file, { force: true });
  }
}

function readHolder(file: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(file, 'utf8').trim().split('@');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && host !== undefined ? { pid: n, host } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
