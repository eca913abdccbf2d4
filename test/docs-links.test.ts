import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from './support/repo-root.js';

/** Every relative link in the README and docs/ must reach a file, and an anchor a heading in it. */
const ROOT = REPO_ROOT;
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsIn(page: string): Set<string> {
  const text = readFileSync(join(ROOT, page), 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] ?? '')));
}

function linksIn(page: string): string[] {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((href) => !/^[a-z]+:/.test(href));
}

describe('the documentation', () => {
  it('makes anchors as GitHub does', () => {
    assert.equal(anchorOf('Backing up and restoring the audit log'), 'backing-up-and-restoring-the-audit-log');
    assert.equal(anchorOf('`max-rows`: a truncated result'), 'max-rows-a-truncated-result');
  });

  it('has no broken relative link or anchor', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const href of linksIn(page)) {
        const [path = '', anchor] = href.split('#');
        const target = path === '' ? page : join(dirname(page), path);
        if (!existsSync(join(ROOT, target))) broken.push(`${page}: ${href}`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchorsIn(target).has(anchor)) broken.push(`${page}: ${href}`);
      }
    }
    assert.ok(PAGES.length > 5);
    assert.deepEqual(broken, []);
  });
});
