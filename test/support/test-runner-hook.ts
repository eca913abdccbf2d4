/**
 * Preloaded into every test file's process by scripts/run-tests.mjs (`--import`).
 *
 * Node 20's test runner enables an async_hooks hook with init and destroy callbacks for the whole
 * life of a test file's process: it maps each async resource to the test that created it. It needs
 * that map while the file builds its suites (an `it` inside a `describe` finds its suite by it),
 * and afterwards only to name the test an uncaught exception came from. Enabled, it makes every
 * promise cost more; with a gateway running in the test's process that is a sixth of the scope
 * oracle's busy time (a CPU profile of it, 2026-12-07). So this keeps a handle on the runner's hook,
 * and `releaseTestRunnerHook()` turns it off once the suites are built — from a `before`, never at
 * a file's top level. After that, an uncaught exception or unhandled rejection still fails the
 * file (the runner reports it at the top level and exits with 1), but no longer names its test.
 */
import asyncHooks, { type AsyncHook, type HookCallbacks } from 'node:async_hooks';

// On the global object: a bundled test file carries a copy of this module of its own (scripts/bundle-tests.mjs).
const HANDLE = Symbol.for('idgate.test-runner-hook');
const RELEASED = Symbol.for('idgate.test-runner-hook.released');

interface Holder {
  [HANDLE]?: AsyncHook;
  [RELEASED]?: boolean;
}

const holder = globalThis as Holder;
const createHook = asyncHooks.createHook;

asyncHooks.createHook = function createHookSeen(callbacks: HookCallbacks): AsyncHook {
  const hook = createHook(callbacks);
  // The runner's own hook, known by who creates it: no other hook of the process is touched.
  if (holder[HANDLE] === undefined && /node:internal\/test_runner\/harness/.test(new Error().stack ?? '')) holder[HANDLE] = hook;
  return hook;
};

/** True when the preload found the test runner's hook in this process. */
export function testRunnerHookFound(): boolean {
  return holder[HANDLE] !== undefined;
}

/** Turns the test runner's hook off (from a `before` or a test: the suites are built by then). */
export function releaseTestRunnerHook(): void {
  const hook = holder[HANDLE];
  if (hook === undefined) return;
  hook.disable();
  holder[RELEASED] = true;
}

/** True once `releaseTestRunnerHook` turned the runner's hook off in this process. */
export function testRunnerHookReleased(): boolean {
  return holder[RELEASED] === true;
}
