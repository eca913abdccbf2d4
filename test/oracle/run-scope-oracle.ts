/**
 * npm run test:scope-oracle: the whole differential scope oracle. Starts its own Postgres, Entra
 * simulator and gateway, runs every case of the corpus under every oracle scope over the simple and
 * the extended protocol, prints the figures and every finding with its bytes, and exits 1 on any.
 * IDGATE_ORACLE_CASES sets the corpus size (default 10,000), IDGATE_ORACLE_SEED its seed.
 */
import { generateCorpus } from './corpus.js';
import { prepareOracleDatabase } from './oracle-database.js';
import { ORACLE_SCOPES, startOracleHarness } from './oracle-harness.js';
import { runCachePoisoning } from './cache-poisoning.js';
import { runScopeOracle } from './scope-oracle.js';

const size = Number(process.env['IDGATE_ORACLE_CASES'] ?? 10_000);
const seed = Number(process.env['IDGATE_ORACLE_SEED'] ?? 12);
const h = await startOracleHarness();
try {
  const { canaries, otherAgent } = await prepareOracleDatabase(h);
  const started = Date.now();
  const corpus = generateCorpus(size, seed);
  const report = await runScopeOracle(h, corpus, ORACLE_SCOPES, canaries);
  const poisoning = await runCachePoisoning(h, corpus, ORACLE_SCOPES);
  report.findings.push(...poisoning.findings);
  otherAgent.close();
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(
    `scope oracle: ${report.cases} cases (seed ${seed}) × ${ORACLE_SCOPES.length} scopes (${ORACLE_SCOPES.map((s) => s.scope).join(' | ')}), simple, extended and pipelined`,
  );
  console.log(
    `  ${report.runs} runs through the gateway, ${report.forwarded} with statements forwarded, ${report.directRuns} distinct forwarded sequences run against the server; ${seconds} s`,
  );
  console.log(`  cache poisoning: ${poisoning.runs} runs (agent B's statement, agent A's colliding text, B's statement again)`);
  console.log(`  findings: ${report.findings.length}`);
  for (const f of report.findings) console.log(JSON.stringify(f));
  process.exitCode = report.findings.length === 0 ? 0 : 1;
} finally {
  await h.stop();
}
