import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Changes when the way a template is made changes, so that an older template is not reused. */
const TEMPLATE_FORMAT = 1;

export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/** Runs initdb into `dataDir` with the superuser's password read from `pwfile`. */
export type InitDb = (dataDir: string, pwfile: string) => Promise<void>;

/**
 * A fresh cluster directory, copied from one that initdb made once per set of binaries and kept in
 * the temporary directory: initdb spends ~0.8 s of CPU, a copy ~0.08 s, and a test run starts
 * about a hundred clusters. The copy's superuser has the template's password; the caller changes
 * it to its own as its first statement.
 *
 * A template is used only if this process's user (or, as root, the `postgres` OS user) owns it and
 * no one else can read it: on a shared host another user could otherwise plant a template whose
 * superuser password they know. Anything else found there is ignored and initdb runs as before.
 */
export async function copyFromTemplate(binDir: string, osUser: OsUser | undefined, initdb: InitDb, dataDir: string): Promise<string> {
  const template = await templateFor(binDir, osUser, initdb);
  try {
    // cp -a keeps the owner (as root, postgres) and the modes Postgres checks (0700 on the directory).
    await run('cp', ['-a', join(template.dir, 'data'), dataDir]);
    return readFileSync(join(template.dir, 'password'), 'utf8');
  } finally {
    if (template.oneOff) rmSync(template.dir, { recursive: true, force: true });
  }
}

/** Where the template for these binaries is kept (tests plant look-alikes there). */
export function templatePath(binDir: string): string {
  return join(tmpdir(), `idgate-pg-template-${templateKey(binDir)}`);
}

/** The kept template, made now if missing; a one-off one if something untrusted holds its place. */
async function templateFor(binDir: string, osUser: OsUser | undefined, initdb: InitDb): Promise<{ dir: string; oneOff: boolean }> {
  const owner = osUser?.uid ?? userInfo().uid;
  const kept = templatePath(binDir);
  if (trusted(kept, owner)) return { dir: kept, oneOff: false };
  const building = mkdtempSync(join(tmpdir(), 'idgate-pg-template-new-'));
  try {
    if (osUser) chownSync(building, osUser.uid, osUser.gid);
    const pwfile = join(building, 'password');
    writeFileSync(pwfile, randomBytes(18).toString('base64url'), { mode: 0o600 });
    if (osUser) chownSync(pwfile, osUser.uid, osUser.gid);
    await initdb(join(building, 'data'), pwfile);
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    throw e;
  }
  try {
    renameSync(building, kept);
    return { dir: kept, oneOff: false };
  } catch {
    // Another process kept the same template first (use theirs), or something else is there.
    if (!trusted(kept, owner)) return { dir: building, oneOff: true };
    rmSync(building, { recursive: true, force: true });
    return { dir: kept, oneOff: false };
  }
}

/** One template per set of binaries: the directory, the initdb binary's identity and the format. */
function templateKey(binDir: string): string {
  const initdb = statSync(join(binDir, 'initdb'));
  return createHash('sha256')
    .update(`${realpathSync(binDir)}\0${initdb.size}\0${initdb.mtimeMs}\0${TEMPLATE_FORMAT}`)
    .digest('hex')
    .slice(0, 16);
}

function trusted(dir: string, owner: number): boolean {
  try {
    const at = lstatSync(dir);
    const password = lstatSync(join(dir, 'password'));
    const version = lstatSync(join(dir, 'data', 'PG_VERSION'));
    const privateTo = (s: typeof at): boolean => s.uid === owner && (s.mode & 0o077) === 0;
    return at.isDirectory() && password.isFile() && version.isFile() && privateTo(at) && privateTo(password);
  } catch {
    return false;
  }
}
