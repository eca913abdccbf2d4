import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's root: the nearest folder above this file that holds package.json. Tests run
 * from their TypeScript sources (test/…) or compiled (.build/test/…), so a path built relative to
 * a test's own URL would point into the build; paths built from here point at the checkout.
 */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the repository, from its parts relative to the root. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
