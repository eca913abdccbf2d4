import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './support/repo-root.js';

const run = promisify(execFile);

/** Every module the product starts as a worker thread (`startModuleWorker(new URL('./name', …))`), by name. */
function workerModules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return workerModules(path);
    if (!name.endsWith('.ts')) return [];
    return [...readFileSync(path, 'utf8').matchAll(/startModuleWorker\(new URL\('\.\/([\w-]+)'/g)].map((m) => m[1] ?? '');
  });
}

/**
 * What `npm pack` ships: the CLI, the bundled product (its `idgate dev` environment included:
 * the Postgres cluster and the Entra simulator are product, run by `idgate dev`) with its worker
 * threads, and the docs — never the tests, their harness, the TypeScript sources, the unbundled
 * compiler output or the benchmarks.
 */
describe('the published package', () => {
  it('holds the compiled product, its worker threads and its docs, and nothing of the tests', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO_ROOT,
      maxBuffer: 10 << 20,
    });
    const workers = [...workerModules(join(REPO_ROOT, 'src')), ...workerModules(join(REPO_ROOT, 'protocols'))];
    // The audit writer, the central shipper, the analysis thread: fewer found means the pattern no longer matches the code.
    assert.ok(workers.length >= 3, `worker modules found: ${workers.join(', ')}`);
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    for (const needed of [
      'bin/idgate',
      'dist/bundle/idgate.js',
      // Each worker thread is an entry of the bundle named as its module (scripts/bundle.mjs), or it cannot start.
      ...workers.map((w) => `dist/bundle/${w}.js`),
      'docs/configuration.md',
      'README.md',
      'LICENSE',
    ]) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    const stray = files.filter(
      (f) =>
        f.startsWith('test/') ||
        f.startsWith('scripts/') ||
        f.startsWith('src/') ||
        f.startsWith('protocols/') ||
        (f.startsWith('dist/') && !f.startsWith('dist/bundle/')) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(stray, []);
  });
});
