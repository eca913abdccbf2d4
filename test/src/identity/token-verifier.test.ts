import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT, type JWTVerifyGetKey } from 'jose';
import { AccessError, type AccessErrorCode } from '../../../src/access-error.js';
import type { EntraConfig } from '../../../src/config/gateway-config.js';
import { EntraSimulator } from '../../../src/dev/entra-simulator.js';
import { jwksUrl } from '../../../src/identity/jwks-url.js';
import { EntraHttp } from '../../../src/identity/entra-http.js';
import { SigningKeys } from '../../../src/identity/signing-keys.js';
import { TokenVerifier } from '../../../src/identity/token-verifier.js';
import { simulatorOptionsForRun } from '../../support/run-signing-key.js';

const AUD = 'api://idgate';

describe('TokenVerifier', () => {
  let entra: EntraSimulator;
  let config: EntraConfig;
  before(async () => {
    entra = await EntraSimulator.start(await simulatorOptionsForRun());
    config = {
      tenantId: entra.tenantId,
      audiences: [AUD],
      authority: entra.authority,
      clockSkewSeconds: 60,
      allowUserTokens: false,
      jwksCooldownMs: 0,
      jwksRefreshMs: 3_600_000,
    };
    http = new EntraHttp({ ca: entra.caCert, timeoutMs: 2000 });
  });
  after(async () => {
    http.close();
    await entra.stop();
  });
  let http: EntraHttp;
  const signingKeys = (c: EntraConfig): SigningKeys =>
    new SigningKeys(jwksUrl(c.authority, c.tenantId).href, http, { refreshMs: c.jwksRefreshMs, cooldownMs: c.jwksCooldownMs });
  const newVerifier = (c: EntraConfig): TokenVerifier => new TokenVerifier(c, signingKeys(c).getKey);

  const refusedWith = (code: AccessErrorCode) => (e: unknown) => e instanceof AccessError && e.code === code;

  it('returns the identity: oid, azp, tenant, groups, roles, name, expiry', async () => {
    const verifier = newVerifier(config);
    const token = await entra.mint({
      aud: AUD,
      oid: 'A0A0A0A0-0000-0000-0000-000000000001',
      azp: 'app-1',
      groups: ['G-1'],
      roles: ['R1'],
      app_displayname: 'sync agent',
    });
    const identity = await verifier.verify(token);
    assert.equal(identity.objectId, 'a0a0a0a0-0000-0000-0000-000000000001');
    assert.equal(identity.appId, 'app-1');
    assert.equal(identity.tenantId, entra.tenantId);
    assert.deepEqual(identity.groups, ['g-1']);
    assert.deepEqual(identity.roles, ['R1']);
    assert.equal(identity.displayName, 'sync agent');
    assert.equal(identity.groupsOverage, false);
  });

  it('accepts a v1 token (sts.windows.net issuer, appid)', async () => {
    const verifier = newVerifier(config);
    const token = await entra.mint({
      aud: AUD,
      iss: `https://sts.windows.net/${entra.tenantId}/`,
      ver: '1.0',
      azp: undefined,
      appid: 'v1-app',
      idtyp: undefined,
    });
    const identity = await verifier.verify(token);
    assert.equal(identity.appId, 'v1-app');
    assert.equal(identity.tokenVersion, '1.0');
  });

  it('flags a groups overage token', async () => {
    const verifier = newVerifier(config);
    const token = await entra.mint({
      aud: AUD,
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x' } },
    });
    assert.equal((await verifier.verify(token)).groupsOverage, true);
  });

  it('accepts app-only tokens without idtyp (no scp), refuses delegated ones unless allowed', async () => {
    const verifier = newVerifier(config);
    await verifier.verify(await entra.mint({ aud: AUD, idtyp: undefined }));
    await assert.rejects(
      verifier.verify(await entra.mint({ aud: AUD, idtyp: undefined, scp: 'access' })),
      refusedWith('token-not-app-only'),
    );
    const lenient = newVerifier({ ...config, allowUserTokens: true });
    await lenient.verify(await entra.mint({ aud: AUD, idtyp: 'user', scp: 'access' }));
  });

  it('refuses other algorithms, even with a valid-looking structure', async () => {
    const verifier = newVerifier(config);
    const hs = await new SignJWT({ aud: AUD, tid: entra.tenantId, oid: 'x', azp: 'y', iss: entra.issuer })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new Uint8Array(32));
    await assert.rejects(verifier.verify(hs), refusedWith('token-wrong-algorithm'));
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ aud: AUD })).toString('base64url')}.`;
    await assert.rejects(verifier.verify(unsigned), refusedWith('token-wrong-algorithm'));
  });

  it('refuses tokens without oid or tid, and oversized input', async () => {
    const verifier = newVerifier(config);
    await assert.rejects(verifier.verify(await entra.mint({ aud: AUD, oid: undefined })), refusedWith('token-malformed'));
    await assert.rejects(verifier.verify(await entra.mint({ aud: AUD, tid: undefined })), refusedWith('token-malformed'));
    await assert.rejects(verifier.verify('a'.repeat(40_000)), refusedWith('token-malformed'));
    await assert.rejects(verifier.verify(''), refusedWith('token-malformed'));
  });

  it('verifies a token once and then answers from its cache until expiry', async () => {
    let keyLookups = 0;
    const remote = signingKeys(config).getKey;
    const counting: JWTVerifyGetKey = (header, token) => {
      keyLookups += 1;
      return remote(header, token);
    };
    const verifier = new TokenVerifier(config, counting);
    const token = await entra.mint({ aud: AUD });
    const first = await verifier.verify(token);
    for (let i = 0; i < 10; i++) assert.deepEqual(await verifier.verify(token), first);
    assert.equal(keyLookups, 1);
    // Within the 60 s skew for under 2 s: exp is whole seconds, so a margin of one second
    // could already be gone when minting and verifying straddle a second boundary.
    const shortLived = await entra.mint({ aud: AUD }, { expiresIn: -58 });
    await verifier.verify(shortLived);
    await new Promise((r) => setTimeout(r, 2100));
    await assert.rejects(verifier.verify(shortLived), refusedWith('token-expired'));
  });

  it('picks up a rotated signing key (unknown kid → refetch)', async () => {
    const verifier = newVerifier(config);
    await verifier.verify(await entra.mint({ aud: AUD }));
    const before = entra.jwksRequests;
    await entra.rotateKeys();
    await verifier.verify(await entra.mint({ aud: AUD }));
    assert.equal(entra.jwksRequests, before + 1);
  });

  it('a removed key stops verifying after the next refresh, even for a token it already cached', async () => {
    const keys = signingKeys({ ...config, jwksRefreshMs: 3_600_000 });
    const verifier = new TokenVerifier(config, keys.getKey);
    const removed: string[][] = [];
    keys.onRemoved((kids) => {
      removed.push([...kids]);
      verifier.forgetKeys(kids);
    });
    const old = await entra.mint({ aud: AUD });
    const oldIdentity = await verifier.verify(old);
    await entra.rotateKeys();
    entra.retireOldKeys();
    await verifier.verify(old); // until the refresh, the cached answer stands
    await keys.refresh();
    assert.equal(removed.length, 1);
    assert.ok(removed[0]?.includes(oldIdentity.keyId), 'the removal of the old key is announced');
    await assert.rejects(verifier.verify(old), refusedWith('token-unknown-key'));
    assert.notEqual((await verifier.verify(await entra.mint({ aud: AUD }))).keyId, oldIdentity.keyId);
  });

  it('keeps the last key set when a refresh fails', async () => {
    const keys = signingKeys({ ...config, jwksRefreshMs: 1 });
    const verifier = new TokenVerifier(config, keys.getKey);
    await verifier.verify(await entra.mint({ aud: AUD }));
    entra.keysAvailable = false;
    try {
      await new Promise((r) => setTimeout(r, 5)); // past the refresh interval: the next verify refetches, and fails to
      const before = entra.jwksRequests;
      await verifier.verify(await entra.mint({ aud: AUD }));
      assert.ok(entra.jwksRequests > before, 'a refresh was tried');
    } finally {
      entra.keysAvailable = true;
    }
  });

  it('refetches on unknown kids at most once per cooldown', async () => {
    const verifier = newVerifier({ ...config, jwksCooldownMs: 60_000 });
    await verifier.verify(await entra.mint({ aud: AUD }));
    const before = entra.jwksRequests;
    for (let i = 0; i < 5; i++) {
      await assert.rejects(verifier.verify(await entra.mint({ aud: AUD }, { unpublishedKey: true })), refusedWith('token-unknown-key'));
    }
    assert.ok(entra.jwksRequests - before <= 1, `${entra.jwksRequests - before} refetches`);
  });

  it('fails closed when the key set cannot be fetched', async () => {
    const verifier = newVerifier({ ...config, authority: 'https://127.0.0.1:9' });
    await assert.rejects(verifier.verify(await entra.mint({ aud: AUD })), refusedWith('signing-keys-unavailable'));
  });
});
