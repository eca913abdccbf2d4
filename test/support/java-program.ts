import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { RUN_DIR } from './run-dir.js';

const run = promisify(execFile);
/** Debian's libpostgresql-jdbc-java (scripts/setup installs it with a Java runtime). */
export const JDBC_JAR = '/usr/share/java/postgresql.jar';
const compiled = new Map<string, Promise<string>>();

/**
 * `java`'s arguments to run one of the interop tests' single-file programs with pgJDBC. Java's
 * source-file mode compiles the program at every start (about 1.5 s of CPU); under run-tests it is
 * compiled once per run instead, into the run's folder, with the compiler the runtime carries
 * (Debian's headless JRE has the jdk.compiler module, not the javac command). Run by hand, outside
 * run-tests, the source-file mode is used.
 */
export async function javaArgs(source: string, args: readonly string[]): Promise<string[]> {
  if (RUN_DIR === undefined) return ['-cp', JDBC_JAR, source, ...args];
  const name = basename(source, '.java');
  let classes = compiled.get(name);
  if (classes === undefined) {
    classes = compileOnce(source, join(RUN_DIR, 'java', name));
    compiled.set(name, classes);
  }
  return ['-cp', `${JDBC_JAR}:${await classes}`, name, ...args];
}

/** Compiles `source` into `dir` unless a file of the run did already; written whole, then renamed, so no reader sees half of it. */
async function compileOnce(source: string, dir: string): Promise<string> {
  if (await exists(dir)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const partial = await mkdtemp(`${dir}.`);
  await run('java', ['-m', 'jdk.compiler/com.sun.tools.javac.Main', '-d', partial, '-cp', JDBC_JAR, source]);
  try {
    await rename(partial, dir);
  } catch (e) {
    // Another file of the run compiled it first: theirs is used, this copy dropped.
    if (!(await exists(dir))) throw e;
    await rm(partial, { recursive: true, force: true });
  }
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
