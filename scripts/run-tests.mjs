#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (through tsx). `--unit` runs only the files
// outside test/integration and test/interop (no cluster, no gateway process, no CLI process), a
// file per core at once. Otherwise the files run one at a time: the integration files each start
// their own Postgres cluster and gateway, and the machine has 2 cores.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** Folders of tests that start real servers (a cluster, a gateway, a client process). */
const SERVER_TESTS = new Set(['integration', 'interop']);

function findTests(dir, unit) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'bench' || (unit && SERVER_TESTS.has(name)) ? [] : findTests(path, unit);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const only = args.filter((a) => a !== '--unit');
const files = only.length > 0 ? only : findTests('test', unit).sort();
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${unit ? availableParallelism() : 1}`,
    '--test-timeout=120000',
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
