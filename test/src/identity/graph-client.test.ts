import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../../src/config/config-error.js';
import { buildConfig } from '../../../src/config/load-config.js';
import { Secret } from '../../../src/config/secret.js';
import { EntraSimulator, READ_APPLICATIONS, READ_MEMBERSHIP } from '../../../src/dev/entra-simulator.js';
import { confidentialTokens } from '../../../src/identity/app-tokens.js';
import { EntraHttp } from '../../../src/identity/entra-http.js';
import { GraphClient, GraphUnavailableError } from '../../../src/identity/graph-client.js';
import { confidentialClient } from '../../../src/identity/msal-apps.js';
import { resolveGroupNames } from '../../../src/identity/resolve-group-names.js';
import { simulatorOptionsForRun } from '../../support/run-signing-key.js';

describe('GraphClient against the simulated tenant (msal-node client credentials, HTTPS with the simulator CA)', () => {
  let entra: EntraSimulator;
  let http: EntraHttp;
  let graph: GraphClient;
  before(async () => {
    entra = await EntraSimulator.start(await simulatorOptionsForRun());
    http = new EntraHttp({ ca: entra.caCert, timeoutMs: 2000 });
    graph = await graphAs([READ_APPLICATIONS, READ_MEMBERSHIP]);
  });
  after(async () => {
    http.close();
    await entra.stop();
  });

  async function graphAs(roles: string[], certificate = false): Promise<GraphClient> {
    const app = await entra.directory.registerApplication({ displayName: 'gateway', roles, certificate });
    const credential = certificate
      ? ({ kind: 'certificate', pem: new Secret(`${app.certificates[0]?.certPem ?? ''}${app.certificates[0]?.keyPem ?? ''}`) } as const)
      : ({ kind: 'secret', secret: new Secret(app.secrets[0] ?? '') } as const);
    return new GraphClient(
      entra.graphEndpoint,
      confidentialTokens(
        confidentialClient({ authority: entra.authority, tenantId: entra.tenantId, clientId: app.appId, credential, http }),
      ),
      http,
    );
  }

  it('reads a service principal by appId: enabled, disabled, deleted, with its display name', async () => {
    const agent = await entra.directory.registerApplication({ displayName: 'agent' });
    assert.deepEqual(await graph.servicePrincipal(agent.appId), { objectId: agent.objectId, accountEnabled: true, displayName: 'agent' });
    entra.directory.setEnabled(agent.appId, false);
    assert.deepEqual(await graph.servicePrincipal(agent.appId), { objectId: agent.objectId, accountEnabled: false, displayName: 'agent' });
    entra.directory.deleteApplication(agent.appId);
    assert.equal(await graph.servicePrincipal(agent.appId), undefined);
  });

  it('checks membership in batches of 20 and lists every group (overage)', async () => {
    const agent = await entra.directory.registerApplication({ displayName: 'member' });
    const groups = Array.from({ length: 45 }, (_, i) => entra.directory.createGroup(`g${i}`).id);
    const memberOf = groups.filter((_, i) => i % 2 === 0);
    for (const g of memberOf) entra.directory.addMember(g, agent.objectId);
    assert.deepEqual([...(await graph.checkMemberGroups(agent.objectId, groups))].sort(), [...memberOf].sort());
    assert.deepEqual((await graph.memberGroups(agent.objectId)).sort(), [...memberOf].sort());
  });

  it("reads an API's app roles and a service principal's assignments on it", async () => {
    const api = entra.directory.registerApi('api://roles-test');
    const agent = await entra.directory.registerApplication({ displayName: 'role-holder', roles: ['Records.Read', 'Records.Write'] });
    const roles = await graph.apiAppRoles(api.appId);
    assert.equal(roles?.objectId, api.objectId);
    assert.deepEqual([...(roles?.roles.keys() ?? [])].sort(), ['Records.Read', 'Records.Write']);
    entra.directory.removeRole(agent.appId, 'Records.Write');
    const assigned = (await graph.appRoleAssignments(agent.objectId)).filter((a) => a.resourceId === api.objectId).map((a) => a.appRoleId);
    assert.deepEqual(assigned, [roles?.roles.get('Records.Read')]);
    assert.equal(await graph.apiAppRoles(crypto.randomUUID()), undefined);
  });

  it('works with a certificate credential (client assertion) too', async () => {
    const withCertificate = await graphAs([READ_APPLICATIONS], true);
    const agent = await entra.directory.registerApplication({ displayName: 'seen-by-cert' });
    assert.equal((await withCertificate.servicePrincipal(agent.appId))?.accountEnabled, true);
  });

  it('is unavailable, never a yes, without the Graph permission, when Graph is down, or when the gateway is disabled', async () => {
    const unprivileged = await graphAs([]);
    await assert.rejects(
      unprivileged.servicePrincipal(crypto.randomUUID()),
      (e) => e instanceof GraphUnavailableError && /403/.test(e.message),
    );
    entra.graphAvailable = false;
    await assert.rejects(graph.servicePrincipal(crypto.randomUUID()), (e) => e instanceof GraphUnavailableError && /503/.test(e.message));
    entra.graphAvailable = true;
    const app = await entra.directory.registerApplication({ displayName: 'disabled-gateway', roles: [READ_APPLICATIONS] });
    entra.directory.setEnabled(app.appId, false);
    const disabled = new GraphClient(
      entra.graphEndpoint,
      confidentialTokens(
        confidentialClient({
          authority: entra.authority,
          tenantId: entra.tenantId,
          clientId: app.appId,
          credential: { kind: 'secret', secret: new Secret(app.secrets[0] ?? '') },
          http,
        }),
      ),
      http,
    );
    await assert.rejects(
      disabled.servicePrincipal(app.appId),
      (e) => e instanceof GraphUnavailableError && /AADSTS7000112/.test(e.message),
    );
  });

  it('resolves identity-map group display names; unknown and ambiguous names are config errors naming the entry', async () => {
    const sync = entra.directory.createGroup('sync-agents');
    entra.directory.createGroup('twins');
    entra.directory.createGroup('twins');
    entra.directory.createGroup("o'brien");
    const config = (groups: string[]) =>
      buildConfig(
        {
          entra: {
            'tenant-id': entra.tenantId,
            audience: 'api://x',
            'gateway-identity': { 'client-id': crypto.randomUUID(), 'client-secret-env': 'S' },
            graph: {},
          },
          connections: [{ name: 'c', host: 'h', database: 'd', user: 'u', 'password-env': 'S' }],
          'identity-map': groups.map((g) => ({ 'entra-group': g, connection: 'c', scope: 'read' })),
        },
        'test',
        '/',
        { S: 'x' },
      );
    const resolved = await resolveGroupNames(config(['sync-agents', "o'brien", sync.id]), graph);
    assert.equal(resolved.identityMap[0]?.match.kind === 'entra-group' && resolved.identityMap[0].match.groupId, sync.id);
    assert.ok(
      resolved.identityMap[1]?.match.kind === 'entra-group' && resolved.identityMap[1].match.groupId !== '',
      'a quote in a name is escaped for the filter',
    );
    await assert.rejects(resolveGroupNames(config(['sync-agents', 'nobody', 'twins']), graph), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /identity-map\[1\]\.entra-group: no Entra group is named "nobody"/);
      assert.match(e.message, /identity-map\[2\]\.entra-group: 2 Entra groups are named "twins" .*use the object id/);
      return true;
    });
    entra.graphAvailable = false;
    // Graph down is not a configuration error, and does not read like one.
    await assert.rejects(resolveGroupNames(config(['sync-agents']), graph), (e) => {
      assert.ok(e instanceof GraphUnavailableError && !(e instanceof ConfigError));
      assert.match(
        e.message,
        /^Microsoft Graph could not be asked which groups the identity-map's names \("sync-agents"\) are: .*Nothing in test is wrong/,
      );
      return true;
    });
    entra.graphAvailable = true;
  });
});
