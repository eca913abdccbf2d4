import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { stringify } from 'yaml';
import type { SimApplication } from '../../src/dev/entra-simulator.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { AUDIENCE, Harness } from '../support/harness.js';

const SCOPE = `${AUDIENCE}/.default`;

/** `idgate token` as an agent runs it: msal-node against the simulated tenant, the token then used at the gateway. */
describe('idgate token', () => {
  let h: Harness;
  let agent: SimApplication;
  let caFile = '';
  before(async () => {
    h = await Harness.start({ graph: {} });
    agent = await h.agent('cli-agent');
    caFile = join(h.workDirectory, 'entra-ca.pem');
  });
  after(async () => {
    await h.stop();
  });

  const base = (): string[] => [
    'token',
    '--authority',
    h.entra.authority,
    '--tenant',
    h.entra.tenantId,
    '--client-id',
    agent.appId,
    '--scope',
    SCOPE,
  ];

  async function canQuery(token: string): Promise<number> {
    const client = new pg.Client(pgOptions(h, token));
    await client.connect();
    try {
      return (await client.query('SELECT 1 AS n')).rows[0].n as number;
    } finally {
      await client.end();
    }
  }

  it('prints a token for a client secret (CA trusted through NODE_EXTRA_CA_CERTS) that the gateway admits', async () => {
    const r = await idgate([...base(), '--client-secret-env', 'AGENT_SECRET'], {
      AGENT_SECRET: agent.secrets[0],
      NODE_EXTRA_CA_CERTS: caFile,
    });
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(await canQuery(token), 1);
  });

  it('prints a token for a certificate (client assertion), and PGPASSWORD=… with --env', async () => {
    const pem = join(h.workDirectory, 'agent.pem');
    writeFileSync(pem, `${agent.certificates[0]?.certPem ?? ''}${agent.certificates[0]?.keyPem ?? ''}`, { mode: 0o600 });
    const r = await idgate([...base(), '--certificate', pem, '--ca', caFile, '--env']);
    assert.equal(r.code, 0, r.stderr);
    const match = /^PGPASSWORD='([\w.-]+)'\n$/.exec(r.stdout);
    assert.ok(match?.[1], r.stdout);
    const claims = JSON.parse(Buffer.from(match[1].split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['azpacr'], '2', 'authenticated with a certificate');
    assert.equal(await canQuery(match[1]), 1);
  });

  it('gets a token for a managed identity from the endpoint msal-node finds in IDENTITY_ENDPOINT', async () => {
    const identity = await h.entra.directory.registerApplication({ displayName: 'vm-identity', managedIdentity: true, secret: false });
    h.entra.directory.addMember(h.groupId, identity.objectId);
    const r = await idgate(['token', '--managed-identity', '--scope', SCOPE, '--ca', caFile], {
      IDENTITY_ENDPOINT: h.entra.managedIdentityEndpoint,
      IDENTITY_HEADER: h.entra.identityHeader,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await canQuery(r.stdout.trim()), 1);
  });

  it("shows Entra's own errors: a wrong secret (AADSTS7000215), a disabled application (AADSTS7000112)", async () => {
    const wrong = await idgate([...base(), '--client-secret-env', 'AGENT_SECRET', '--ca', caFile], { AGENT_SECRET: 'not-the-secret' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /AADSTS7000215: Invalid client secret provided/);
    assert.doesNotMatch(wrong.stderr, /not-the-secret/);
    h.entra.directory.setEnabled(agent.appId, false);
    try {
      const disabled = await idgate([...base(), '--client-secret-env', 'AGENT_SECRET', '--ca', caFile], { AGENT_SECRET: agent.secrets[0] });
      assert.equal(disabled.code, 1);
      assert.match(disabled.stderr, /AADSTS7000112: Application '[0-9a-f-]+'\(cli-agent\) is disabled/);
      assert.equal(disabled.stdout, '');
    } finally {
      h.entra.directory.setEnabled(agent.appId, true);
    }
  });

  it('check --connect proves the Graph credential and permissions and resolves group names', async () => {
    const identity = h.config.entra.gatewayIdentity;
    const secret = identity?.credential.kind === 'secret' ? identity.credential.secret.reveal() : '';
    const config = (clientId: string) => {
      const file = join(h.workDirectory, `check-${clientId.slice(0, 8)}.yaml`);
      writeFileSync(
        file,
        stringify({
          entra: {
            'tenant-id': h.entra.tenantId,
            audience: AUDIENCE,
            authority: h.entra.authority,
            ca: 'entra-ca.pem',
            'gateway-identity': { 'client-id': clientId, 'client-secret-env': 'GW_SECRET' },
            graph: { endpoint: h.entra.graphEndpoint },
          },
          connections: [
            {
              name: 'c',
              host: h.cluster.host,
              port: h.cluster.port,
              database: 'records',
              user: 'sync_writer',
              'password-env': 'DB_PASSWORD',
              tls: 'disable',
            },
          ],
          'identity-map': [{ 'entra-group': 'records-agents', connection: 'c', scope: 'all' }],
        }),
      );
      return file;
    };
    const env = { GW_SECRET: secret, DB_PASSWORD: h.passwords['sync_writer'] };
    const ok = await idgate(['check', '--connect', '--config', config(identity?.clientId ?? '')], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /graph: ok/);
    assert.match(ok.stdout, new RegExp(`group "records-agents" \\(#0 entra-group:records-agents\\) is ${h.groupId}`));
    const json = await idgate(['check', '--connect', '--json', '--config', config(identity?.clientId ?? '')], env);
    assert.equal(json.code, 0, json.stdout + json.stderr);
    const report = JSON.parse(json.stdout) as { valid: boolean; graph: Record<string, unknown>; connections: Record<string, unknown>[] };
    assert.equal(report.valid, true);
    assert.equal(report.graph['status'], 'ok');
    assert.deepEqual(report.graph['groups'], [{ entry: '#0 entra-group:records-agents', name: 'records-agents', id: h.groupId }]);
    assert.deepEqual(
      report.connections.map((c) => [c['name'], c['ok']]),
      [['c', true]],
    );
    const unprivileged = await h.entra.directory.registerApplication({ displayName: 'no-graph-permissions' });
    const denied = await idgate(['check', '--connect', '--config', config(unprivileged.appId)], {
      ...env,
      GW_SECRET: unprivileged.secrets[0],
    });
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /graph: FAILED: .*403/);
    const deniedJson = await idgate(['check', '--connect', '--json', '--config', config(unprivileged.appId)], {
      ...env,
      GW_SECRET: unprivileged.secrets[0],
    });
    assert.equal(deniedJson.code, 1);
    assert.equal((JSON.parse(deniedJson.stdout) as { graph: { status: string } }).graph.status, 'failed');
  });

  it('refuses ambiguous or missing credentials before calling anyone', async () => {
    const none = await idgate(['token', '--tenant', h.entra.tenantId, '--client-id', agent.appId, '--scope', SCOPE]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --client-secret-env, --certificate or --managed-identity/);
    const unset = await idgate([...base(), '--client-secret-env', 'NOT_SET_ANYWHERE', '--ca', caFile]);
    assert.equal(unset.code, 1);
    assert.match(unset.stderr, /environment variable NOT_SET_ANYWHERE is not set/);
  });
});
