import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AnalysisContext } from '../../../../protocols/postgres/policy/analysis-context.js';
import { AnalysisThread, OFF_THREAD_CHARS } from '../../../../protocols/postgres/policy/off-thread-analysis.js';
import { parseScope } from '../../../../src/config/scope.js';
import { shadowsFromRows } from '../../../../protocols/postgres/policy/shadowed-builtins.js';
import { analysisContext, TEST_SERVER_MAJOR } from '../../../support/sql-analysis.js';

/** A statement long enough to be judged off the relay thread, and slow enough to parse that it can be interrupted. */
function largeSelect(table: string): string {
  const columns = Array.from({ length: Math.ceil((OFF_THREAD_CHARS * 40) / 12) }, (_, i) => `c${i} + ${i}`);
  return `SELECT ${columns.join(', ')} FROM ${table}`;
}

describe('the analysis thread', () => {
  let context: AnalysisContext;
  before(async () => {
    context = await analysisContext();
  });

  it('judges a large statement as the relay thread would', async () => {
    const thread = new AnalysisThread();
    try {
      assert.equal((await thread.judge(parseScope('read:records'), context, largeSelect('records'))).allowed, true);
      const denied = await thread.judge(parseScope('read:records'), context, largeSelect('secrets'));
      assert.equal(denied.allowed, false);
    } finally {
      await thread.stop();
    }
  });

  it('judges with the built-in names the session’s search path overloads, as the relay thread would', async () => {
    const thread = new AnalysisThread();
    const shadowed = { ...context, shadowed: shadowsFromRows([['operator', '+']], TEST_SERVER_MAJOR) };
    try {
      const verdict = await thread.judge(parseScope('read:records'), shadowed, largeSelect('records'));
      assert.equal(verdict.allowed, false);
      assert.match(verdict.allowed ? '' : verdict.message, /the operator \+ \(a schema on the search path overloads/);
    } finally {
      await thread.stop();
    }
  });

  it('refuses what it was judging when it dies mid-judgement, and starts afresh for the next statement', async () => {
    const thread = new AnalysisThread();
    const scope = parseScope('read:records');
    const judging = thread.judge(scope, context, largeSelect('records'));
    await thread.stop(); // the thread dies while the statement is being parsed
    const verdict = await judging;
    assert.equal(verdict.allowed, false, 'fail closed: a statement without a verdict is refused');
    assert.equal(verdict.allowed ? '' : verdict.sqlstate, '42601');
    const next = await thread.judge(scope, context, largeSelect('records'));
    assert.equal(next.allowed, true, 'a new thread answers the next statement');
    await thread.stop();
  });
});
