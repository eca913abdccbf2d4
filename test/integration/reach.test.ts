import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { sessionsJson, settleAudit } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

describe('idgate reach: what one agent can reach now, and why', () => {
  let h: Harness;
  let config: { file: string; env: Record<string, string> };
  before(async () => {
    h = await Harness.start({
      graph: { 'cache-seconds': 0 },
      identityMap: [{ 'entra-app-role': 'Reach.Other', connection: 'other-db', scope: 'read:records' }],
    });
    config = h.writeConfigFile();
  });
  after(async () => {
    await h.stop();
  });

  const reach = async (id: string): Promise<Record<string, unknown>> => {
    const r = await idgate(['reach', id, '--json', '--config', config.file], config.env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  /** The identity-map entry a real login to `connection` is admitted by (from the audit log), or its SQLSTATE. */
  async function loginEntry(token: string, connection: string, appId: string): Promise<string> {
    const client = new pg.Client(pgOptions(h, token, { database: connection }));
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (e) {
      return (e as { code?: string }).code ?? 'refused';
    }
    await client.end();
    await settleAudit(h);
    const session = (await sessionsJson(h, { identity: appId, connection })).at(-1);
    return String(session?.['mapping']);
  }

  it('lists, per connection, the entry a login would be admitted by — the same answer a real login gets', async () => {
    const agent = await h.agent('reach-agent', [h.groupId], ['Reach.Other']);
    const answer = await reach(agent.appId);
    assert.deepEqual(answer['identity'], { objectId: agent.objectId, appId: agent.appId, displayName: 'reach-agent', enabled: true });
    const reaches = answer['reaches'] as { connection: string; entry: string; scope: string; via: Record<string, unknown> }[];
    assert.deepEqual(
      reaches.map((r) => [r.connection, r.entry, r.scope]),
      [
        [CONNECTION, 'writers', 'all'],
        ['other-db', '#2 entra-app-role:Reach.Other', 'read:records'],
      ],
    );
    assert.deepEqual(reaches[0]?.via, { group: h.groupId, groupName: null });
    assert.deepEqual(reaches[1]?.via, { appRole: 'Reach.Other' });
    const token = await h.agentToken(agent);
    // The audit log names the entry the same way, with the group id it matched.
    assert.equal(await loginEntry(token, CONNECTION, agent.appId), `writers (entra-group:${h.groupId})`);
    assert.equal(await loginEntry(token, 'other-db', agent.appId), '#2 entra-app-role:Reach.Other');
    // By object id as well, and in the table form.
    assert.deepEqual((await reach(agent.objectId))['reaches'], answer['reaches']);
    const text = await idgate(['reach', agent.appId, '--config', config.file], config.env);
    assert.match(text.stdout, /reach-agent .*: enabled/);
    assert.match(text.stdout, /other-db\s+#2 entra-app-role:Reach\.Other\s+app role Reach\.Other\s+read:records/);
  });

  it('reaches nothing without a mapped group or role, and nothing at all when disabled — as logins are refused', async () => {
    const stranger = await h.agent('reach-stranger', []);
    assert.deepEqual((await reach(stranger.appId))['reaches'], []);
    assert.equal(await loginEntry(await h.agentToken(stranger), CONNECTION, stranger.appId), '28000');
    const retired = await h.agent('reach-retired', [h.groupId]);
    h.entra.directory.setEnabled(retired.appId, false);
    const answer = await reach(retired.appId);
    assert.equal((answer['identity'] as { enabled: boolean }).enabled, false);
    assert.deepEqual(answer['reaches'], []);
    assert.equal(await loginEntry(await h.agentToken(retired), CONNECTION, retired.appId), '28000');
    const text = await idgate(['reach', retired.appId, '--config', config.file], config.env);
    assert.match(text.stdout, /DISABLED in Entra/);
  });

  it('says so, and reports nothing, when Graph cannot answer or the identity does not exist', async () => {
    const unknown = await idgate(['reach', crypto.randomUUID(), '--config', config.file], config.env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no service principal/);
    const down = h.writeConfigFile((doc) => {
      const entra = doc['entra'] as Record<string, unknown>;
      entra['graph'] = { ...(entra['graph'] as Record<string, unknown>), endpoint: 'https://127.0.0.1:1', 'timeout-seconds': 1 };
    });
    const r = await idgate(['reach', crypto.randomUUID(), '--config', down.file], down.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Graph could not answer/);
    assert.equal(r.stdout, '');
  });

  it('follows nested groups: an agent in a group inside the mapped group reaches, logs in, is counted, and loses access when taken out', async () => {
    const inner = h.entra.directory.createGroup('reach-inner-team');
    h.entra.directory.addMember(h.groupId, inner.id);
    const agent = await h.agent('nested-agent', [inner.id]);
    const reaches = (await reach(agent.appId))['reaches'] as { connection: string; entry: string; via: Record<string, unknown> }[];
    assert.deepEqual(
      reaches.map((r) => [r.connection, r.entry]),
      [[CONNECTION, 'writers']],
    );
    assert.deepEqual(reaches[0]?.via, { group: h.groupId, groupName: null });
    const listed = await idgate(['identities', '--json', '--config', config.file, '--db', h.config.recordingsPath], config.env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.includes(agent.objectId), 'identities counts a member of a nested group');
    const client = new pg.Client(pgOptions(h, await h.agentToken(agent)));
    const errors: (Error & { code?: string })[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    // Out of the inner group, out of the mapped one: live revocation ends the session.
    h.entra.directory.removeMember(inner.id, agent.objectId);
    await h.gateway.recheckNow();
    for (let i = 0; i < 50 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(errors[0]?.code, '57P01');
    await client.end().catch(() => undefined);
    assert.deepEqual((await reach(agent.appId))['reaches'], []);
  });
});
