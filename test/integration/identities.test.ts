import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { settleAudit } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

describe('idgate identities: every identity that can reach a connection, flagged', () => {
  let h: Harness;
  let config: { file: string; env: Record<string, string> };
  before(async () => {
    h = await Harness.start({
      graph: { 'cache-seconds': 0 },
      identityMap: [{ 'entra-app-role': 'Census.Read', connection: 'other-db', scope: 'read' }],
    });
    config = h.writeConfigFile();
  });
  after(async () => {
    await h.stop();
  });

  const census = async (...extra: string[]): Promise<Map<string, Record<string, unknown>>> => {
    const r = await idgate(['identities', '--json', '--config', config.file, '--db', h.config.recordingsPath, ...extra], config.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rows = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return new Map(rows.map((row) => [String(row['appId']), row]));
  };

  it('lists group members over every page and role holders, with last login and sessions; flags the unused and the disabled', async () => {
    const used = await h.agent('census-used', [h.groupId]);
    const idle = await h.agent('census-idle', [h.groupId]);
    const retired = await h.agent('census-retired', [h.groupId]);
    const byRole = await h.agent('census-role', [], ['Census.Read']);
    h.entra.directory.setEnabled(retired.appId, false);
    // More members than one Graph page holds (100).
    for (let i = 0; i < 120; i++) {
      const bulk = await h.entra.directory.registerApplication({ displayName: `census-bulk-${i}` });
      h.entra.directory.addMember(h.groupId, bulk.objectId);
    }
    const client = new pg.Client(pgOptions(h, await h.agentToken(used)));
    await client.connect();
    await client.query('SELECT count(*) FROM records');
    await client.end();
    await settleAudit(h);
    const rows = await census();
    assert.equal(rows.size, 124, 'every member of every page, and the role holder');
    // Granted scope all through the group, it only read records: over-scoped, with the narrowest scope that would have done.
    assert.deepEqual(rows.get(used.appId)?.['flags'], ['over-scoped']);
    assert.deepEqual(
      (rows.get(used.appId)?.['overScoped'] as Record<string, unknown>[]).map((o) => [o['granted'], o['suggestion']]),
      [['all', 'read:records']],
    );
    assert.equal(rows.get(used.appId)?.['sessions'], 1);
    assert.notEqual(rows.get(used.appId)?.['lastLogin'], null);
    assert.deepEqual(rows.get(idle.appId)?.['flags'], ['unused']);
    assert.equal(rows.get(idle.appId)?.['lastLogin'], null);
    assert.deepEqual(rows.get(retired.appId)?.['flags'], ['disabled'], 'disabled in Entra but still in a mapped group');
    assert.deepEqual(rows.get(byRole.appId)?.['entries'], [
      { entry: '#2 entra-app-role:Census.Read', connection: 'other-db', scope: 'read', via: { appRole: 'Census.Read' } },
    ]);
    // A login older than the window is unused too.
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual((await census('--unused', '1s')).get(used.appId)?.['flags'], ['unused'], 'and its window holds no usage to judge');
  });

  it('flags an identity used under two client labels at once as shared, not one agent that reconnects', async () => {
    const twin = await h.agent('census-twin', [h.groupId]);
    const single = await h.agent('census-single', [h.groupId]);
    const open = async (token: string, user: string): Promise<pg.Client> => {
      const c = new pg.Client(pgOptions(h, token, { user }));
      await c.connect();
      return c;
    };
    const twinToken = await h.agentToken(twin);
    const [one, two] = [await open(twinToken, 'agent-one'), await open(twinToken, 'agent-two')];
    await one.end();
    await two.end();
    const singleToken = await h.agentToken(single);
    await (await open(singleToken, 'agent-solo')).end();
    await (await open(singleToken, 'agent-solo')).end();
    await settleAudit(h);
    const rows = await census();
    assert.ok((rows.get(twin.appId)?.['flags'] as string[]).includes('shared'));
    assert.ok(!(rows.get(single.appId)?.['flags'] as string[]).includes('shared'));
  });

  it('writes a Markdown report a security review can attach, findings first', async () => {
    const r = await idgate(['identities', '--markdown', '--config', config.file, '--db', h.config.recordingsPath], config.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^# Agent identities with access through idgate\n/);
    assert.match(r.stdout, /## Disabled in Entra, still listed \(1\)\n[^#]*\| census-retired \|/);
    assert.match(r.stdout, /## Over-scoped \(\d+\)\n[^#]*\| census-used \| [0-9a-f-]+ \| records-api \| `all` \| `read:records` \|/);
    assert.match(r.stdout, /## Shared \(1\)\n[^#]*\| census-twin \|/);
    assert.match(r.stdout, /## Every identity\n/);
  });

  it('reports nothing when Graph cannot answer in full', async () => {
    const down = h.writeConfigFile((doc) => {
      const entra = doc['entra'] as Record<string, unknown>;
      entra['graph'] = { ...(entra['graph'] as Record<string, unknown>), endpoint: 'https://127.0.0.1:1', 'timeout-seconds': 1 };
    });
    const r = await idgate(['identities', '--config', down.file, '--db', h.config.recordingsPath], down.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Graph could not answer in full/);
    assert.equal(r.stdout, '');
  });

  it('publishes the same census as idgate_identities on the admin endpoint, counted by flag', async () => {
    const { freePort } = await import('../../src/dev/free-port.js');
    const { startIdgate } = await import('../support/cli.js');
    const [port, adminPort] = [await freePort(), await freePort()];
    const served = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
      d['recordings'] = { path: h.config.recordingsPath.replace(/\.db$/, '-census.db') };
      d['admin'] = { port: adminPort, 'identity-census-seconds': 1 };
    });
    const gateway = await startIdgate(['serve', '--config', served.file], /admin endpoint listening/, served.env);
    try {
      let text = '';
      for (let i = 0; i < 100; i++) {
        text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
        if (/idgate_identities\{[^}]*flag="listed"/.test(text)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const sample = (flag: string): number =>
        Number(new RegExp(`idgate_identities\\{[^}]*flag="${flag}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? NaN);
      // The report from the same audit database the gateway reads (its own, fresh: nobody has logged in through it).
      const report = await idgate(
        ['identities', '--json', '--config', served.file, '--db', h.config.recordingsPath.replace(/\.db$/, '-census.db')],
        served.env,
      );
      assert.equal(report.code, 0, report.stderr);
      const rows = report.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { flags: string[] });
      assert.equal(sample('listed'), rows.length);
      for (const flag of ['unused', 'shared', 'disabled', 'over-scoped']) {
        assert.equal(sample(flag), rows.filter((r) => r.flags.includes(flag)).length, flag);
      }
      assert.ok(sample('unused') > 100, 'the bulk members never connected');
      assert.ok(sample('disabled') >= 1);
      assert.match(text, /idgate_identities_census_timestamp_seconds\{[^}]*\} [1-9]/);
    } finally {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });
});
