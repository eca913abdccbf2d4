import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { OSSRDBMS_RESOURCE } from '../../src/dev/entra-simulator.js';
import { auditBytes, settleAudit } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { Harness, type HarnessOptions } from '../support/harness.js';

const AZURE_STYLE = 'azure-style';

/**
 * A gateway with an `auth: entra` connection granted to the group named `group`, whose upstream
 * role accepts exactly the tokens the simulator issues for the Azure PG resource.
 */
async function startAzureStyle(group: string, options: HarnessOptions): Promise<Harness> {
  const h = await Harness.start({
    graph: {},
    ...options,
    connections: (cluster) => [
      {
        name: AZURE_STYLE,
        host: cluster.host,
        port: cluster.port,
        database: 'records',
        user: 'entra_gateway',
        auth: 'entra',
        tls: 'disable',
      },
    ],
    identityMap: [{ 'entra-group': group, connection: AZURE_STYLE, scope: 'read' }],
  });
  await h.cluster.sql('CREATE ROLE entra_gateway LOGIN');
  await h.cluster.sql('GRANT SELECT ON records TO entra_gateway', 'records');
  h.entra.beforeIssue = async ({ resource, token }) => {
    if (resource === OSSRDBMS_RESOURCE) await h.cluster.sql(`ALTER ROLE entra_gateway PASSWORD '${token}'`);
  };
  return h;
}

/**
 * `auth: entra`: the gateway logs in upstream with a token of its own identity, as Azure Database
 * for PostgreSQL expects. The simulator sets the upstream role's password to each token it issues
 * for the Azure PG resource just before handing it out, so a real Postgres (SCRAM) accepts exactly
 * the token the gateway was given and nothing else. The identity-map names its group by display name.
 */
describe('upstream login with the gateway’s own Entra identity; groups by display name', () => {
  let h: Harness;
  let analysts = '';
  before(async () => {
    h = await startAzureStyle('analysts', {
      prepare: (entra) => {
        analysts = entra.directory.createGroup('analysts').id;
      },
    });
  });
  after(async () => {
    await h.stop();
  });

  const upstreamTokens = (): string[] => h.entra.issued.filter((i) => i.resource === OSSRDBMS_RESOURCE).map((i) => i.token);

  async function query(token: string, sql: string): Promise<pg.QueryResultRow[]> {
    const client = new pg.Client(pgOptions(h, token, { database: AZURE_STYLE }));
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  it('resolved the display name to the group id at start', () => {
    const rule = h.gateway.config.identityMap.find((r) => r.connection === AZURE_STYLE);
    assert.deepEqual(rule?.match, { kind: 'entra-group', groupId: analysts, groupName: 'analysts' });
  });

  it('refuses the client with 08004 when Entra will not give the gateway a token (its application disabled)', async () => {
    const agent = await h.agent('analyst-two', [analysts]);
    const token = await h.agentToken(agent);
    const gatewayApp = h.config.entra.gatewayIdentity?.clientId ?? '';
    h.entra.tokenLifetimeSeconds = 120; // inside msal-node's five-minute renewal window: never reused
    assert.deepEqual(await query(token, 'SELECT current_user AS who'), [{ who: 'entra_gateway' }]);
    h.entra.directory.setEnabled(gatewayApp, false);
    try {
      await assert.rejects(
        query(token, 'SELECT 1'),
        (e: Error & { code?: string }) => e.code === '08004' && /could not obtain its Entra token/.test(e.message),
      );
      assert.ok(
        h.logLines.some((l) => l.includes('AADSTS7000112')),
        "Entra's words reach the gateway's log",
      );
    } finally {
      h.entra.directory.setEnabled(gatewayApp, true);
    }
  });

  it('a token within msal’s renewal window is replaced before it expires; one far from expiry is reused', async () => {
    const agent = await h.agent('analyst-agent', [analysts]);
    const token = await h.agentToken(agent);
    const before = upstreamTokens().length;
    h.entra.tokenLifetimeSeconds = 120;
    assert.equal((await query(token, 'SELECT count(*)::int AS n FROM records'))[0]?.n, 100);
    await query(token, 'SELECT 1');
    const renewed = upstreamTokens().slice(before);
    assert.equal(renewed.length, 2, 'a token about to expire was reused');
    assert.notEqual(renewed[0], renewed[1]);
    h.entra.tokenLifetimeSeconds = 3600;
    await query(token, 'SELECT 2'); // the 120 s token is renewed once more, now for an hour…
    await query(token, 'SELECT 3'); // …and that one is reused
    assert.equal(upstreamTokens().length - before, 3);
    const gatewayApp = h.config.entra.gatewayIdentity?.clientId;
    assert.ok(
      h.entra.issued.filter((i) => i.resource === OSSRDBMS_RESOURCE).every((i) => i.clientId === gatewayApp),
      'requested as the gateway',
    );
  });

  it('keeps the upstream tokens out of the logs and the audit log', async () => {
    await settleAudit(h);
    const logs = h.logLines.join('\n');
    const audit = auditBytes(h.config.recordingsPath).toString('latin1');
    for (const token of upstreamTokens()) {
      assert.ok(!logs.includes(token), 'an upstream token is in the logs');
      assert.ok(!audit.includes(token.slice(-40)), 'an upstream token is in the audit log');
    }
  });
});

describe('the gateway as a managed identity: no stored secret anywhere', () => {
  let h: Harness;
  before(async () => {
    h = await startAzureStyle('records-agents', { gatewayIdentity: 'managed-identity' });
  });
  after(async () => {
    await h.stop();
  });

  it('asks Graph and logs in upstream with tokens of its managed identity, and live revocation works', async () => {
    const agent = await h.agent('mi-served-agent');
    const token = await h.agentToken(agent);
    const client = new pg.Client(pgOptions(h, token, { database: AZURE_STYLE }));
    await client.connect();
    assert.deepEqual((await client.query('SELECT current_user AS who')).rows, [{ who: 'entra_gateway' }]);
    await client.end();
    const managedIdentity = h.entra.directory.managedIdentity();
    const issued = h.entra.issued.filter((i) => i.clientId === managedIdentity?.appId).map((i) => i.resource);
    assert.ok(issued.includes(OSSRDBMS_RESOURCE) && issued.includes('https://graph.microsoft.com'), issued.join(', '));
    h.entra.directory.setEnabled(agent.appId, false);
    await new Promise((r) => setTimeout(r, 5100)); // the default cache-seconds
    await assert.rejects(
      (async () => {
        const again = new pg.Client(pgOptions(h, token, { database: AZURE_STYLE }));
        await again.connect();
        await again.end();
      })(),
      /identity disabled in Entra/,
    );
  });
});
