import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/** Operators read end reasons in `idgate sessions` and metrics: each one is explained in docs/errors.md. */
describe('session end reasons', () => {
  it('are each documented in docs/errors.md', () => {
    const source = readFileSync(new URL('../../../src/session/end-reason.ts', import.meta.url), 'utf8');
    const reasons = [...source.matchAll(/\|\s*'([a-z-]+)'/g)].map((m) => m[1] ?? '');
    assert.ok(reasons.length > 15 && reasons.includes('upstream-protocol-violation'), 'the reasons were read');
    const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const missing = reasons.filter((r) => !docs.includes(`| \`${r}\``));
    assert.deepEqual(missing, []);
  });
});
