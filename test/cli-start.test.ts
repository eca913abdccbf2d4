import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { build, type Metafile } from 'esbuild';
import { REPO_ROOT } from './support/repo-root.js';

/**
 * What each command loads before it runs: the modules reached from its own file by static imports
 * (a dynamic import() is loaded only when the code reaches it), read from esbuild's graph of the
 * sources, bundled as scripts/bundle.mjs bundles them. A library a command does not need at start
 * costs every run its load (the configuration's reader, zod and YAML, ~1 MB bundled; pg; msal-node)
 * and `npm test` starts the CLI some 400 times.
 */
function bundleGraph(): Promise<Metafile['inputs']> {
  return build({
    entryPoints: [join(REPO_ROOT, 'src/main.ts')],
    absWorkingDir: REPO_ROOT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    outdir: join(REPO_ROOT, '.build/cli-start-graph'),
    write: false,
    metafile: true,
    external: ['better-sqlite3', 'libpg-query', 'libpg-query-15', 'libpg-query-16', 'libpg-query-17', 'pg-native'],
    logLevel: 'silent',
  }).then((result) => result.metafile.inputs);
}

/** Built once for both tests (about half a second). */
let graph: Promise<Metafile['inputs']> | undefined;
const inputGraph = (): Promise<Metafile['inputs']> => (graph ??= bundleGraph());

/** Every input a module reaches through static imports, itself included. */
function staticClosure(inputs: Metafile['inputs'], start: string): Set<string> {
  const reached = new Set([start]);
  const pending = [start];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    for (const { path, kind } of inputs[file]?.imports ?? []) {
      if (kind === 'dynamic-import' || reached.has(path)) continue;
      reached.add(path);
      pending.push(path);
    }
  }
  return reached;
}

const READING_COMMANDS = ['sessions', 'show', 'replay', 'export', 'verify', 'anchor'];
/** Libraries a reading command needs only for a config file or a central store (postgres:// URL). */
const NOT_AT_A_READING_START = ['zod', 'yaml', 'pg', '@azure/msal-node'];

/** Whether a graph input is a file of the package `name` (node_modules may be a link, which esbuild follows to its real path). */
const inPackage = (name: string) => (input: string) => input.includes(`node_modules/${name}/`);

describe('what a command loads at start', () => {
  it('a reading command on a local file loads neither the configuration reader, nor pg, nor msal-node', async () => {
    const inputs = await inputGraph();
    for (const command of READING_COMMANDS) {
      const file = `src/cli/commands/${command}.ts`;
      assert.ok(inputs[file] !== undefined, `${file} is in the graph`);
      const loaded = [...staticClosure(inputs, file)];
      for (const library of NOT_AT_A_READING_START) {
        const chain = loaded.filter(inPackage(library));
        assert.deepEqual(chain.slice(0, 1), [], `${command} loads ${library} at start`);
      }
    }
  });

  it('serve loads msal-node only for a gateway identity of its own, and the entry no command at all', async () => {
    const inputs = await inputGraph();
    const serve = [...staticClosure(inputs, 'src/cli/commands/serve.ts')];
    assert.ok(serve.some(inPackage('zod')), 'the graph is read right: serve does load the configuration reader');
    assert.deepEqual(serve.filter(inPackage('@azure/msal-node')).slice(0, 1), []);
    const entry = [...staticClosure(inputs, 'src/main.ts')];
    assert.deepEqual(
      entry.filter((m) => m.startsWith('src/cli/commands/')),
      [],
    );
  });
});
