import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configKeyPaths } from '../../../src/config/config-keys.js';
import { configSchema } from '../../../src/config/schema.js';
import { repoPath } from '../../support/repo-root.js';

const docs = pathToFileURL(repoPath('docs/'));

function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]+?)```/g)].map((m) => m[1] ?? '');
}

describe('the configuration reference', () => {
  it('documents every key the schema accepts', () => {
    const reference = readFileSync(new URL('configuration.md', docs), 'utf8');
    const missing = configKeyPaths(configSchema).filter((path) => !reference.includes(`\`${path}\``));
    assert.deepEqual(missing, [], `keys missing from docs/configuration.md: ${missing.join(', ')}`);
  });

  it('finds keys in nested objects, lists and unions (the walk itself)', () => {
    const paths = configKeyPaths(configSchema);
    for (const p of [
      'listen.tls.cert',
      'connections[].password-env',
      'identity-map[].limits.max-sessions',
      'limits.identities[].identity',
      'recordings.central.url',
    ]) {
      assert.ok(paths.includes(p), p);
    }
  });

  it('has only examples that are valid configuration, section by section', () => {
    const sections = configSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; error?: { message: string } } }>;
    let checked = 0;
    for (const file of readdirSync(docs).filter((f) => f.endsWith('.md'))) {
      for (const block of yamlBlocks(readFileSync(new URL(file, docs), 'utf8'))) {
        const document: unknown = parseYaml(block);
        assert.ok(typeof document === 'object' && document !== null, `${file}: a YAML example that is not a mapping`);
        for (const [key, value] of Object.entries(document)) {
          const schema = sections[key];
          assert.ok(schema !== undefined, `${file}: unknown top-level key ${key} in an example`);
          const result = schema.safeParse(value);
          assert.ok(result.success, `${file}: the example's ${key} is not valid: ${result.error?.message ?? ''}`);
          checked += 1;
        }
      }
    }
    assert.ok(checked >= 3, 'the docs hold configuration examples');
  });
});
