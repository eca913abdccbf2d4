import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { settleAudit } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

describe('idgate usage: the scope granted against what each agent actually ran', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      identityMap: [
        { 'entra-app-role': 'Usage.Wide', connection: CONNECTION, scope: 'read write:records' },
        { 'entra-app-role': 'Usage.Exact', connection: CONNECTION, scope: 'read:records' },
      ],
    });
  });
  after(async () => {
    await h.stop();
  });

  async function run(role: string, appId: string, statements: readonly string[]): Promise<void> {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [role], azp: appId })));
    await client.connect();
    for (const sql of statements) await client.query(sql).catch(() => undefined);
    await client.end();
  }

  it('flags an agent that only read with read write:records as over-scoped, suggesting read:records, and not one that used all it holds', async () => {
    const wide = crypto.randomUUID();
    const exact = crypto.randomUUID();
    await run('Usage.Wide', wide, ['SELECT * FROM records WHERE id = 1', 'SELECT count(*) FROM records']);
    await run('Usage.Wide', wide, ['SELECT title FROM records ORDER BY id LIMIT 3']);
    // Refused statements did nothing: they are not usage.
    await run('Usage.Exact', exact, ['SELECT * FROM records', 'DELETE FROM records']);
    await settleAudit(h);
    const r = await idgate(['usage', '--json', '--db', h.config.recordingsPath]);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byApp = (appId: string): Record<string, unknown> | undefined => rows.find((row) => row['appId'] === appId);
    assert.deepEqual(
      [
        byApp(wide)?.['granted'],
        byApp(wide)?.['used'],
        byApp(wide)?.['overScoped'],
        byApp(wide)?.['suggestion'],
        byApp(wide)?.['sessions'],
        byApp(wide)?.['statements'],
      ],
      ['read write:records', 'read:records', true, 'read:records', 2, 3],
    );
    assert.deepEqual([byApp(exact)?.['used'], byApp(exact)?.['overScoped'], byApp(exact)?.['statements']], ['read:records', false, 1]);
    const text = await idgate(['usage', '--db', h.config.recordingsPath]);
    assert.match(text.stdout, /read write:records\s+read:records\s+yes: read:records\s+2\s+3/);
  });
});
