import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateCorpus } from '../oracle/corpus.js';
import { startOracleHarness, ORACLE_SCOPES } from '../oracle/oracle-harness.js';
import { prepareOracleDatabase, type Canaries } from '../oracle/oracle-database.js';
import { runCachePoisoning } from '../oracle/cache-poisoning.js';
import { runScopeOracle } from '../oracle/scope-oracle.js';
import type { Harness } from '../support/harness.js';
import type { RawClient } from '../support/raw-client.js';

/** The bounded part of the differential scope oracle that npm test runs (npm run test:scope-oracle runs the whole corpus). */
const BOUNDED_CASES = 1500;

describe('the differential scope oracle (bounded part)', () => {
  let h: Harness;
  let canaries: Canaries;
  let otherAgent: RawClient | undefined;
  before(async () => {
    h = await startOracleHarness();
    ({ canaries, otherAgent } = await prepareOracleDatabase(h));
  });
  after(async () => {
    otherAgent?.close();
    await h?.stop(); // before() may have failed before the harness was up
  });

  it(
    `finds nothing outside its scope that the gateway let through, in ${BOUNDED_CASES} cases × ${ORACLE_SCOPES.length} scopes, simple, extended and pipelined`,
    { timeout: 150_000 },
    async () => {
      const report = await runScopeOracle(h, generateCorpus(BOUNDED_CASES), ORACLE_SCOPES, canaries);
      assert.deepEqual(report.findings, [], JSON.stringify(report.findings.slice(0, 20), null, 2));
      assert.ok(
        // A fifth: the corpus holds many cases built to be refused (issue 22's classes), but most templates must still run.
        report.forwarded > report.runs / 5,
        `the oracle must see statements run, not only refusals (${report.forwarded} of ${report.runs})`,
      );
    },
  );

  it(
    'gives one agent’s statement the same verdict before and after another agent sends texts built to collide with it in the cache',
    { timeout: 90_000 },
    async () => {
      const report = await runCachePoisoning(h, generateCorpus(BOUNDED_CASES), ORACLE_SCOPES);
      assert.ok(report.runs > 1000, `${report.runs} runs`);
      assert.deepEqual(report.findings, [], JSON.stringify(report.findings.slice(0, 10), null, 2));
    },
  );

  it('would see a bypass: run with the gateway out of the way, the same corpus touches what the scopes exclude', async () => {
    // A scope of all forwards everything: the oracle, judging it as read:records, must report it.
    const report = await runScopeOracle(h, generateCorpus(60), [{ role: 'Oracle.All', scope: 'read:records' }], canaries, ['simple']);
    assert.ok(
      report.findings.some((f) => /read public\.secrets/.test(f.problem)),
      JSON.stringify(report.findings.slice(0, 3)),
    );
  });
});
