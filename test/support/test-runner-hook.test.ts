import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testRunnerHookFound } from './test-runner-hook.js';

describe('the test runner hook preload', () => {
  it('finds the runner’s hook in a file run by scripts/run-tests.mjs (else every gateway test pays for it again)', (t) => {
    if (!process.execArgv.some((arg) => arg.endsWith('test-runner-hook.js'))) {
      t.skip('run without the preload (node --test by hand)');
      return;
    }
    assert.equal(testRunnerHookFound(), true);
  });
});
