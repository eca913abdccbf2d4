import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { repoPath } from '../../support/repo-root.js';

/** Operators read end reasons in `idgate sessions` and metrics: each one is explained in docs/errors.md. */
describe('session end reasons', () => {
  it('are each documented in docs/errors.md', () => {
    const source = readFileSync(repoPath('src/session/end-reason.ts'), 'utf8');
    const reasons = [...source.matchAll(/\|\s*'([a-z-]+)'/g)].map((m) => m[1] ?? '');
    assert.ok(reasons.length > 15 && reasons.includes('upstream-protocol-violation'), 'the reasons were read');
    const docs = readFileSync(repoPath('docs/errors.md'), 'utf8');
    const missing = reasons.filter((r) => !docs.includes(`| \`${r}\``));
    assert.deepEqual(missing, []);
  });
});
