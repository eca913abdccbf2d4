import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { REPO_ROOT } from '../../support/repo-root.js';

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'fatal']);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(REPO_ROOT, path)).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The `msg` of every log call in the product whose message is a plain string: `logger.warn({…}, 'msg')`. */
function loggedMessages(): string[] {
  const messages = new Set<string>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('protocols')]) {
    const source = ts.createSourceFile(file, readFileSync(join(REPO_ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        LEVELS.has(node.expression.name.text) &&
        /log/i.test(node.expression.expression.getText(source))
      ) {
        const last = node.arguments.at(-1);
        if (last !== undefined && (ts.isStringLiteral(last) || ts.isNoSubstitutionTemplateLiteral(last))) messages.add(last.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...messages].sort();
}

describe('the log events reference', () => {
  it('lists every message the gateway logs in docs/operate.md’s Logs section', () => {
    const text = readFileSync(join(REPO_ROOT, 'docs/operate.md'), 'utf8');
    const start = text.indexOf('## Logs');
    const section = text.slice(start, text.indexOf('\n## ', start + 1));
    const messages = loggedMessages();
    assert.ok(messages.length > 40, 'finds the log calls');
    assert.deepEqual(
      messages.filter((m) => !section.includes(`\`${m}\``)),
      [],
    );
  });
});
