// Bundles compiled test files (from .build/, as tsc left them) into one flat directory, each file an
// entry of its own, what they share split into chunks. A file that starts a gateway in its process
// loads about 330 modules (the product, zod, jose, the test support) through Node's ESM loader, one by
// one: 0.63 s of CPU before its first test on the 2-core box, of which the bundle saves about 0.5.
// The product is shipped bundled too (bin/idgate runs dist/bundle/), so the tests run it as it runs.
// The worker threads sit beside the files, as in the CLI's bundle (scripts/bundle-options.mjs).
//
// Stack traces name the bundle's lines; with NODE_OPTIONS=--enable-source-maps they name the
// TypeScript sources (the maps lead there through the compiled files' own).
import { rmSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, workerEntries } from './bundle-options.mjs';

export const BUNDLED_TESTS = '.build/bundled-tests';

/** The bundled name of a test file: its path under test/, folders joined by dots (test/integration/cli.test.ts → integration.cli.test.js). */
export function bundledName(file) {
  const dir = relative('test', dirname(file));
  const name = basename(file).replace(/\.ts$/, '');
  return dir === '' ? name : `${dir.split('/').join('.')}.${name}`;
}

/** Bundles the compiled form of each test file (`test/….test.ts`); returns the bundled files' paths, in the same order. */
export async function bundleTests(files) {
  // Chunk names carry a hash of their content: an old directory would keep every earlier run's chunks.
  rmSync(BUNDLED_TESTS, { recursive: true, force: true });
  const entryPoints = { ...workerEntries('.build') };
  for (const file of files) entryPoints[bundledName(file)] = join('.build', file.replace(/\.ts$/, '.js'));
  await build({ ...BUNDLE_OPTIONS, entryPoints, outdir: BUNDLED_TESTS, sourcemap: 'linked' });
  return files.map((file) => join(BUNDLED_TESTS, `${bundledName(file)}.js`));
}
