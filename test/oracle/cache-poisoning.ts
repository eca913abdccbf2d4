import { createHash } from 'node:crypto';
import type { Harness } from '../support/harness.js';
import type { RawClient } from '../support/raw-client.js';
import type { OracleCase } from './corpus.js';
import { exchange, gatewaySession, isGatewayError, type Finding, type OracleScope } from './scope-oracle.js';

/** k in letters: a comment holding it has no number the cache would normalise. */
function letters(k: number): string {
  let out = '';
  for (let n = k + 1; n > 0; n = Math.floor((n - 1) / 26)) out = String.fromCharCode(97 + ((n - 1) % 26)) + out;
  return out;
}

/** The text as the cache's shape has it, for texts without quotes or comments holding digits: numbers as 0. */
function shapeOf(sql: string): string {
  return sql.replace(/(?<![\w$.])\d+(?:\.\d+)?(?![\w$])/g, '0');
}

/**
 * What the other agent sends first, made from the victim's text: its shape behind each prefix a
 * key space could confuse, and, for a victim long enough to be keyed by its digest, that digest.
 */
function poisonsOf(victim: string): string[] {
  const shape = shapeOf(victim);
  const digest = createHash('sha256').update(shape).digest('base64');
  return ['\x01', '\x02', 's', 'x', 't', 'h'].map((tag) => `${tag}${shape}`).concat([`\x02${digest}`, `\x01\x02${digest}`, `h${digest}`]);
}

/**
 * The verdict cache is shared by every session of a gateway. For each single-statement case with
 * a number in it, made unique by a comment (short, or long enough to be keyed by its digest):
 * agent B sends it with another unique comment (the verdict with nothing cached), agent A sends
 * a text built to collide with it in the cache, then B sends it. B's two verdicts must agree,
 * under every scope: a refusal is a denial of service between agents, an admission a bypass.
 */
export async function runCachePoisoning(
  h: Harness,
  corpus: readonly OracleCase[],
  scopes: readonly OracleScope[],
): Promise<{ runs: number; findings: Finding[] }> {
  const victims = corpus.filter((c) => c.messages.length === 1 && /\d/.test(c.messages[0]?.toString('latin1') ?? '')).slice(0, 60);
  const findings: Finding[] = [];
  let runs = 0;
  for (const { role, scope: scopeText } of scopes) {
    const a = await gatewaySession(h, role);
    const b = await gatewaySession(h, role);
    try {
      for (const c of victims) {
        const sql = c.messages[0]?.toString('utf8') ?? '';
        for (const padding of [0, 2100]) {
          for (let p = 0; p < poisonsOf('').length; p++) {
            runs += 1;
            // A victim of its own for each try: nothing of it is cached before the poison.
            const victim = `${sql} /* ${letters(runs)} ${'p'.repeat(padding)} */`;
            const poison = poisonsOf(victim)[p] ?? '';
            const expected = await deniedIn(b, `${victim} /* cold */`);
            await exchange(a, 'ROLLBACK', 'simple');
            await exchange(a, poison, 'simple');
            const after = await deniedIn(b, victim);
            if (after !== expected) {
              findings.push({
                caseId: c.id,
                origin: `cache poisoning: ${c.origin}`,
                scope: scopeText,
                mode: 'simple',
                problem: `${after ? 'refused' : 'admitted'} after another agent sent ${JSON.stringify(poison.slice(0, 80))}`,
                bytes: [victim.slice(0, 200)],
              });
            }
          }
        }
      }
    } finally {
      a.close();
      b.close();
    }
  }
  return { runs, findings };
}

/** Whether the gateway refuses `sql` in this session, inside a transaction that is rolled back. */
async function deniedIn(c: RawClient, sql: string): Promise<boolean> {
  await exchange(c, 'BEGIN', 'simple');
  const denied = (await exchange(c, sql, 'simple')).some(isGatewayError);
  await exchange(c, 'ROLLBACK', 'simple');
  return denied;
}
