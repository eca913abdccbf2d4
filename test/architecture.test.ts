import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from './support/repo-root.js';

/**
 * The import graph of the product code (src/ and protocols/), read with TypeScript's own
 * pre-processor so type-only imports count too: a cycle through types is still two files that
 * cannot be understood apart.
 */
const ROOT = REPO_ROOT;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('protocols')]) {
    const imports = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true).importedFiles;
    const local = imports.map((i) => i.fileName).filter((name) => name.startsWith('.'));
    graph.set(
      file,
      local.map((name) => relative(ROOT, resolve(ROOT, dirname(file), name.replace(/\.js$/, '.ts')))),
    );
  }
  return graph;
}

/** A module: a top-level folder of src/ or protocols/<name>/ with everything under it; a file at that level is its own. */
function moduleOf(file: string): string {
  const parts = file.split('/');
  const depth = parts[0] === 'src' ? 1 : 2;
  return parts.length <= depth + 1 ? file : parts.slice(0, depth + 1).join('/');
}

/** Strongly connected components of more than one node (Tarjan), each a cycle. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = w === v ? undefined : stack.pop()) {
      onStack.delete(w);
      component.push(w);
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function moduleGraph(files: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const modules = new Map<string, Set<string>>();
  for (const [file, imports] of files) {
    const from = moduleOf(file);
    const to = modules.get(from) ?? new Set<string>();
    modules.set(from, to);
    for (const target of imports) if (moduleOf(target) !== from) to.add(moduleOf(target));
  }
  return new Map([...modules].map(([m, targets]) => [m, [...targets]]));
}

describe('the architecture', () => {
  const graph = importGraph();

  it('reads the imports it checks (the graph is not empty, and a known edge is in it)', () => {
    assert.ok(graph.size > 100);
    assert.ok(graph.get('src/main.ts')?.includes('protocols/postgres/index.ts'));
    assert.deepEqual(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
      [['a', 'b', 'c']],
    );
  });

  it('has no import cycle between files', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('has no import cycle between modules (src/<folder>, protocols/<name>/<folder>, and the files beside them)', () => {
    assert.deepEqual(cycles(moduleGraph(graph)), []);
  });

  it('keeps src/ protocol-independent: only the composition root (src/main.ts) imports a protocol', () => {
    const offenders = [...graph]
      .filter(([file]) => file.startsWith('src/') && file !== 'src/main.ts')
      .filter(([, imports]) => imports.some((target) => target.startsWith('protocols/')))
      .map(([file]) => file);
    assert.deepEqual(offenders, []);
  });

  it('keeps the protocols beneath the core: no protocol imports the CLI, the dev environment or the composition root', () => {
    const offenders = [...graph]
      .filter(([file]) => file.startsWith('protocols/'))
      .filter(([, imports]) => imports.some((t) => t.startsWith('src/cli/') || t.startsWith('src/dev/') || t === 'src/main.ts'))
      .map(([file]) => file);
    assert.deepEqual(offenders, []);
  });

  it('ships no test support: product code imports nothing under test/', () => {
    const offenders = [...graph].filter(([, imports]) => imports.some((t) => t.startsWith('test/'))).map(([file]) => file);
    assert.deepEqual(offenders, []);
  });
});
