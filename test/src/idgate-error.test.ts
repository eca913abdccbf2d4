import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../support/repo-root.js';

const root = REPO_ROOT;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const files = [...sources('src'), ...sources('protocols')].map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }));
const reference = readFileSync(join(root, 'docs/errors.md'), 'utf8');

/** The string literals of a `type XCode = | 'a' | 'b'` union, or of `code: 'a' | 'b'` / `code = 'a'` in an error class. */
function declaredCodes(text: string): string[] {
  const codes: string[] = [];
  for (const m of text.matchAll(/export type \w*Code =([^;]+);/g)) {
    codes.push(...[...(m[1] ?? '').matchAll(/'([a-z0-9-]+)'/g)].map((c) => c[1] ?? ''));
  }
  for (const m of text.matchAll(/readonly code(?::|\s*=)\s*([^,;\n]+)/g)) {
    codes.push(...[...(m[1] ?? '').matchAll(/'([a-z0-9-]+)'/g)].map((c) => c[1] ?? ''));
  }
  return codes;
}

describe('one error family', () => {
  it('throws no bare Error anywhere in the product', () => {
    const bare = files.filter((f) => /throw new Error\(/.test(f.text)).map((f) => f.path);
    assert.deepEqual(bare, []);
  });

  it('has every error class descend from IdgateError', () => {
    const outside = files
      .flatMap((f) => [...f.text.matchAll(/class (\w+) extends Error\b/g)].map((m) => `${f.path}: ${m[1] ?? ''}`))
      .filter((c) => c !== 'src/idgate-error.ts: IdgateError');
    assert.deepEqual(outside, []);
  });

  it('lists every error class and every code in docs/errors.md', () => {
    const classes = files.flatMap((f) => [...f.text.matchAll(/export class (\w+) extends IdgateError/g)].map((m) => m[1] ?? ''));
    assert.ok(classes.length >= 10);
    for (const name of classes) assert.ok(reference.includes(`\`${name}\``), `${name} is not in docs/errors.md`);
    const codes = files.flatMap((f) =>
      /extends IdgateError|export type \w*ErrorCode|export type RejectionCode/.test(f.text) ? declaredCodes(f.text) : [],
    );
    const missing = [...new Set(codes)].filter((code) => !reference.includes(`\`${code}\``));
    assert.deepEqual(missing, [], 'codes missing from docs/errors.md');
  });
});
