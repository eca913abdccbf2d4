import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify, type JSONWebKeySet } from 'jose';
import { EntraSimulator, READ_APPLICATIONS } from '../../../src/dev/entra-simulator.js';
import { EntraHttp } from '../../../src/identity/entra-http.js';

/** The simulator answers as Entra does; these pin the shapes the gateway and msal-node rely on. */
describe('EntraSimulator', () => {
  let entra: EntraSimulator;
  let http: EntraHttp;
  before(async () => {
    entra = await EntraSimulator.start();
    http = new EntraHttp({ ca: entra.caCert, timeoutMs: 2000 });
    entra.directory.registerApi('api://sim-test');
  });
  after(async () => {
    http.close();
    await entra.stop();
  });

  const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
  const tokenRequest = (fields: Record<string, string>) =>
    http.post(
      entra.tokenEndpoint,
      { 'content-type': 'application/x-www-form-urlencoded' },
      form({ grant_type: 'client_credentials', ...fields }),
    );

  it('signs with a key it is given, published under a kid of its own in each simulator', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const signingKeyPem = await exportPKCS8(privateKey);
    const first = await EntraSimulator.start({ signingKeyPem });
    const second = await EntraSimulator.start({ signingKeyPem });
    try {
      const [firstKeys, secondKeys] = await Promise.all(
        [first, second].map(async (sim) => {
          const reader = new EntraHttp({ ca: sim.caCert, timeoutMs: 2000 });
          const r = await reader.get(`${sim.authority}/${sim.tenantId}/discovery/v2.0/keys`);
          reader.close();
          return createLocalJWKSet(JSON.parse(r.body) as JSONWebKeySet);
        }),
      );
      assert.ok(firstKeys !== undefined && secondKeys !== undefined);
      const token = await first.mint({ aud: 'api://sim-test' });
      assert.equal((await jwtVerify(token, firstKeys)).payload.aud, 'api://sim-test');
      // The same key under another kid: a token names its key by kid, so the other set has none for it.
      await assert.rejects(jwtVerify(token, secondKeys), /no applicable key|JWKSNoMatchingKey/i);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('is reached only over HTTPS with its own CA', async () => {
    const untrusting = new EntraHttp({ timeoutMs: 2000 });
    await assert.rejects(
      untrusting.get(`${entra.authority}/${entra.tenantId}/discovery/v2.0/keys`),
      /SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify/i,
    );
    untrusting.close();
    assert.equal((await http.get(`${entra.authority}/${entra.tenantId}/discovery/v2.0/keys`)).status, 200);
  });

  it('issues v2 app tokens for an API: aud is its client id, oid/azp/roles/groups from the directory', async () => {
    const app = await entra.directory.registerApplication({ displayName: 'agent', roles: ['Records.Read'] });
    const group = entra.directory.createGroup('readers');
    entra.directory.addMember(group.id, app.objectId);
    const r = await tokenRequest({ client_id: app.appId, client_secret: app.secrets[0] ?? '', scope: 'api://sim-test/.default' });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { access_token: string; expires_in: number; token_type: string };
    assert.equal(body.token_type, 'Bearer');
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims['aud'], entra.directory.api('api://sim-test')?.appId);
    assert.equal(claims['oid'], app.objectId);
    assert.equal(claims['azp'], app.appId);
    assert.equal(claims['azpacr'], '1');
    assert.equal(claims['idtyp'], 'app');
    assert.deepEqual(claims['roles'], ['Records.Read']);
    assert.deepEqual(claims['groups'], [group.id]);
    assert.equal(claims['tid'], entra.tenantId);
  });

  it('gives Graph tokens a nonce header, as Microsoft Graph does', async () => {
    const app = await entra.directory.registerApplication({ displayName: 'graph-caller', roles: [READ_APPLICATIONS] });
    const r = await tokenRequest({
      client_id: app.appId,
      client_secret: app.secrets[0] ?? '',
      scope: 'https://graph.microsoft.com/.default',
    });
    const token = (JSON.parse(r.body) as { access_token: string }).access_token;
    assert.ok(typeof decodeProtectedHeader(token)['nonce'] === 'string');
  });

  const errorCases: [string, () => Promise<Record<string, string>>, number, string, RegExp][] = [
    ['an unsupported grant', async () => ({ grant_type: 'password' }), 400, 'unsupported_grant_type', /AADSTS70003/],
    [
      'an unknown client',
      async () => ({ client_id: crypto.randomUUID(), client_secret: 'x', scope: 'api://sim-test/.default' }),
      400,
      'unauthorized_client',
      /AADSTS700016/,
    ],
    [
      'a wrong secret',
      async () => ({
        client_id: (await entra.directory.registerApplication({ displayName: 'a' })).appId,
        client_secret: 'wrong',
        scope: 'api://sim-test/.default',
      }),
      401,
      'invalid_client',
      /AADSTS7000215: Invalid client secret provided/,
    ],
    [
      'a forged client assertion',
      async () => {
        const app = await entra.directory.registerApplication({ displayName: 'c', certificate: true });
        return {
          client_id: app.appId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: 'eyJhbGciOiJQUzI1NiJ9.e30.AAAA',
          scope: 'api://sim-test/.default',
        };
      },
      401,
      'invalid_client',
      /AADSTS700027/,
    ],
    [
      'a disabled application',
      async () => {
        const app = await entra.directory.registerApplication({ displayName: 'off' });
        entra.directory.setEnabled(app.appId, false);
        return { client_id: app.appId, client_secret: app.secrets[0] ?? '', scope: 'api://sim-test/.default' };
      },
      400,
      'unauthorized_client',
      /AADSTS7000112: Application '[0-9a-f-]+'\(off\) is disabled\./,
    ],
    [
      'an unknown resource',
      async () => {
        const app = await entra.directory.registerApplication({ displayName: 'r' });
        return { client_id: app.appId, client_secret: app.secrets[0] ?? '', scope: 'api://nobody/.default' };
      },
      400,
      'invalid_resource',
      /AADSTS500011/,
    ],
  ];
  for (const [name, fields, status, error, description] of errorCases) {
    it(`refuses ${name} as Entra does`, async () => {
      const r = await tokenRequest(await fields());
      assert.equal(r.status, status);
      const body = JSON.parse(r.body) as { error: string; error_description: string; error_codes: number[] };
      assert.equal(body.error, error);
      assert.match(body.error_description, description);
      assert.match(body.error_description, /Trace ID: .* Correlation ID: .* Timestamp: /);
    });
  }

  it('refuses Graph calls without a Graph token, and takes admin calls over HTTP', async () => {
    const app = await entra.directory.registerApplication({ displayName: 'admin-target' });
    const noToken = await http.get(`${entra.graphEndpoint}/v1.0/servicePrincipals(appId='${app.appId}')`);
    assert.equal(noToken.status, 401);
    assert.equal((await http.post(`${entra.authority}/_admin/applications/${app.appId}/disable`, {}, '')).status, 200);
    assert.equal(entra.directory.application(app.appId)?.accountEnabled, false);
    assert.equal((await http.post(`${entra.authority}/_admin/applications/${app.appId}/enable`, {}, '')).status, 200);
    assert.equal(entra.directory.application(app.appId)?.accountEnabled, true);
    const group = entra.directory.createGroup('via-admin');
    assert.equal((await http.post(`${entra.authority}/_admin/groups/${group.id}/members/${app.objectId}`, {}, '')).status, 200);
    assert.deepEqual(entra.directory.memberOf(app.objectId), [group.id]);
    const kid = JSON.parse((await http.post(`${entra.authority}/_admin/keys/rotate`, {}, '')).body) as { kid: string };
    const keys = JSON.parse((await http.get(`${entra.authority}/${entra.tenantId}/discovery/v2.0/keys`)).body) as {
      keys: { kid: string }[];
    };
    assert.equal(keys.keys[0]?.kid, kid.kid);
  });
});
