#!/usr/bin/env node
// Compiles the tests with the product (as tsc -p tsconfig.test.json would, into .build/, incrementally), then
// runs every test/**/*.test.ts, compiled, with Node's test runner, several files at once: each
// integration file starts its own Postgres clusters and gateways on free ports, in its own
// temporary directories, so files do not share a server. The files that take longest start first
// (the longest-first order keeps the last minute from being one file running alone). `--unit`
// runs only the files outside test/integration and test/interop (no cluster, no gateway process,
// no CLI process). Each file gets 180 s in all (Node 20's --test-timeout bounds a file run in its
// own process as a whole, not each test in it); a test that needs more than 30 s says so itself.
// Compiled, not through tsx: a file's process (and each worker thread a gateway in it starts) loads
// plain JavaScript, which halves the CPU a file spends before its first test.
//
// `--checks` (npm test) also checks the formatting, beside the compile and the tests rather than
// before them (the run is CPU-bound on two cores, so what matters is that no core waits), and lints
// while the tests run, in this process, with the program the compile built rather than a second
// program of the same files; it prints their output at the end, and fails if either fails. It
// bundles the CLI from what it compiled into .build/ (the same compiler options as `npm run
// build`), so the product is compiled once, not twice.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleTests } from './bundle-tests.mjs';
import { compileTests } from './compile-tests.mjs';
import { lintWithProgram } from './lint-with-program.mjs';

/** Folders of tests that start real servers (a cluster, a gateway, a client process). */
const SERVER_TESTS = new Set(['integration', 'interop']);
/**
 * The longest files, longest first (seconds alone on the reference machine, 2 cores): started
 * first, so the run does not end waiting on one of them. A file not named here starts after them.
 */
const LONGEST_FIRST = [
  'test/integration/central-store.test.ts', // 76
  'test/integration/scope-oracle.test.ts', // 63
  'test/integration/cli.test.ts', // 54
  'test/integration/audit-recording.test.ts', // 46
  'test/integration/audit-replaced.test.ts', // 37
  'test/integration/crash-durability.test.ts', // 24
  'test/integration/audit-replay.test.ts', // 24
];
/**
 * Files at once: a core each, and two more, since integration files spend much of their time waiting
 * on servers and timers. With one more, the cores were busy 1.86 of 2 on average (715 s of CPU in
 * 384 s); with two more, 1.92 (714 s in 372 s), the run 12 s shorter (2026-12-07, 2 cores).
 */
const CONCURRENCY = Number(process.env.IDGATE_TEST_CONCURRENCY ?? availableParallelism() + 2);

function findTests(dir, unit) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'bench' || (unit && SERVER_TESTS.has(name)) ? [] : findTests(path, unit);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Integration and interop files before unit files (they take longer), the known longest first of all. */
function scheduled(files) {
  const rank = (file) => {
    const known = LONGEST_FIRST.indexOf(file);
    if (known !== -1) return known;
    return startsServers(file) ? LONGEST_FIRST.length : LONGEST_FIRST.length + 1;
  };
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const checks = args.includes('--checks');
const only = args.filter((a) => !a.startsWith('--'));
const files = only.length > 0 ? only : scheduled(findTests('test', unit));
/** The checks and the test runner, stopped with this process: killed alone (not its whole group), it would leave them running. */
const children = new Set();
/** A folder the run's files share (test/support/run-signing-key.ts), removed after the run. */
let runDir;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal);
    if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
    process.exit(1);
  });
}
// The tool's own entry, run with this Node: npx would cost a Node start of its own.
const beside = checks ? [check('format check', 'node_modules/prettier/bin/prettier.cjs', ['--check', '.'])] : [];
const compiled = compileTests();
if (!compiled.ok) process.exit(await withChecks(beside, 2));
if (checks) {
  const bundled = spawnSync(process.execPath, [join('scripts', 'bundle.mjs'), '.build'], { stdio: 'inherit' });
  if (bundled.status !== 0) process.exit(await withChecks(beside, bundled.status ?? 1));
}
for (const file of LONGEST_FIRST) {
  if (!unit && only.length === 0 && !files.includes(file)) process.stderr.write(`run-tests: ${file} is in LONGEST_FIRST but not found\n`);
}
runDir = mkdtempSync(join(tmpdir(), 'idgate-test-run-'));
const tests = exited(
  spawn(
    process.execPath,
    [
      // Lets a file turn the test runner's async hook off once its suites are built (test/support/test-runner-hook.ts).
      '--import',
      './.build/test/support/test-runner-hook.js',
      '--test',
      `--test-concurrency=${CONCURRENCY}`,
      '--test-timeout=180000',
      '--test-reporter=spec',
      ...(await runnable(files)),
    ],
    { stdio: 'inherit', env: testEnvironment(runDir) },
  ),
);
// The lint runs here while the tests run, with the compile's program (scripts/lint-with-program.mjs).
if (checks) {
  beside.push(
    lintWithProgram(compiled.program).then(
      (result) => ({ name: 'lint', ...result }),
      // ESLint itself failed (its configuration, a plugin): the run fails with what it said.
      (e) => ({ name: 'lint', status: 2, output: `${e instanceof Error ? e.stack : String(e)}\n` }),
    ),
  );
}
const status = await tests;
rmSync(runDir, { recursive: true, force: true });
process.exit(await withChecks(beside, status));

/**
 * What the runner starts for each file: the files that start servers bundled (scripts/bundle-tests.mjs:
 * each loads the product in its process), the others as tsc compiled them (a unit file loads a few
 * modules, and a bundle would cost more than it saves).
 */
async function runnable(files) {
  const servers = files.filter(startsServers);
  // None (--unit): no bundle, and the directory a run of the whole suite may be using is left alone.
  if (servers.length === 0) return files.map(compiledPath);
  const bundled = new Map((await bundleTests(servers)).map((path, i) => [servers[i], path]));
  return files.map((file) => bundled.get(file) ?? compiledPath(file));
}

function compiledPath(file) {
  return join('.build', file.replace(/\.ts$/, '.js'));
}

function startsServers(file) {
  return SERVER_TESTS.has(file.split('/')[1] ?? '');
}

/**
 * The environment of the test files and of every process they start. NODE_EXTRA_CA_CERTS is left
 * out: a machine may set it to trust a proxy on the way out, and Node reads and parses the whole file
 * at every start (0.06 s of CPU each, in a run that starts about 450 Node processes), while the
 * tests reach nothing but their own servers on loopback, trusted through CAs of their own.
 */
function testEnvironment(runDir) {
  const { NODE_EXTRA_CA_CERTS: _outbound, ...env } = process.env;
  return { ...env, IDGATE_TEST_RUN_DIR: runDir };
}

/** Starts a check whose output is kept until the tests have printed theirs. */
function check(name, entry, argv) {
  const child = spawn(process.execPath, [entry, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.on('data', (chunk) => output.push(chunk));
  child.stderr.on('data', (chunk) => output.push(chunk));
  return exited(child).then((status) => ({ name, status, output: Buffer.concat(output).toString() }));
}

function exited(child) {
  children.add(child);
  child.on('close', () => children.delete(child));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

/** The run's status once the checks have ended: their verdicts printed after everything else, the first failing status winning. */
async function withChecks(beside, status) {
  let worst = status;
  for (const { name, status: code, output } of await Promise.all(beside)) {
    process.stdout.write(`\n# ${name}: ${code === 0 ? 'passed' : `failed (status ${code})`}\n${code === 0 ? '' : output}`);
    if (worst === 0) worst = code;
  }
  return worst;
}
