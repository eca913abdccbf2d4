import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/repo-root.js';

/** Every metric name the gateway registers (the literals in src/metrics/). */
function registeredMetrics(): string[] {
  const dir = join(REPO_ROOT, 'src/metrics');
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/'(idgate_[a-z_]+)'/g)) names.add(m[1] ?? '');
  }
  return [...names].sort();
}

/** The metric names the first column of docs/operate.md's metrics table lists. */
function documentedMetrics(): Set<string> {
  const text = readFileSync(join(REPO_ROOT, 'docs/operate.md'), 'utf8');
  const section = text.slice(text.indexOf('## Metrics'), text.indexOf('\n## ', text.indexOf('## Metrics') + 1));
  const names = new Set<string>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `idgate_'))) {
    for (const m of (row.split('|')[1] ?? '').matchAll(/`(idgate_[a-z_]+)`/g)) names.add(m[1] ?? '');
  }
  return names;
}

describe('the metrics reference', () => {
  it('lists every metric the gateway exposes in docs/operate.md’s table', () => {
    const registered = registeredMetrics();
    assert.ok(registered.length > 25, 'finds the registered metrics');
    const documented = documentedMetrics();
    assert.deepEqual(
      registered.filter((m) => !documented.has(m)),
      [],
    );
  });
});
