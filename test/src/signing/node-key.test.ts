import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { isPublicKeyText, NodeKey, verifySigned } from '../../../src/signing/node-key.js';

describe('a node key', () => {
  const { pem, key } = NodeKey.generate();
  const other = NodeKey.generate().key;

  it('reads back from its PEM as the same key, and writes its public key as ed25519:<32 bytes>', () => {
    assert.equal(NodeKey.fromPem(pem).publicKey, key.publicKey);
    assert.ok(isPublicKeyText(key.publicKey));
    assert.match(key.publicKey, /^ed25519:[A-Za-z0-9+/]{43}=$/);
    assert.equal(isPublicKeyText('ed25519:AAAA'), false);
    assert.equal(isPublicKeyText(key.publicKey.replace('ed25519:', 'rsa:')), false);
  });

  it('signs a row kind and hash that only its public key verifies, and only for that kind and hash', () => {
    const signature = key.sign('seal', 'abc');
    assert.equal(verifySigned(key.publicKey, 'seal', 'abc', signature), true);
    assert.equal(verifySigned(key.publicKey, 'login', 'abc', signature), false, 'a seal signature is not a login signature');
    assert.equal(verifySigned(key.publicKey, 'seal', 'abd', signature), false);
    assert.equal(verifySigned(other.publicKey, 'seal', 'abc', signature), false);
    assert.equal(verifySigned(key.publicKey, 'seal', 'abc', null), false);
    assert.equal(verifySigned(key.publicKey, 'seal', 'abc', 'not base64 of 64 bytes'), false);
    assert.equal(verifySigned('ed25519:garbage', 'seal', 'abc', signature), false);
  });

  it('binds a journal MAC to its key and its log id', () => {
    const payload = Buffer.from('record');
    assert.deepEqual(key.journalMac('log-1').tag(payload), NodeKey.fromPem(pem).journalMac('log-1').tag(payload));
    assert.notDeepEqual(key.journalMac('log-1').tag(payload), key.journalMac('log-2').tag(payload));
    assert.notDeepEqual(key.journalMac('log-1').tag(payload), other.journalMac('log-1').tag(payload));
  });

  it('refuses what is not an Ed25519 private key in PEM, without echoing it', () => {
    assert.throws(
      () => NodeKey.fromPem('-----BEGIN PRIVATE KEY-----\nsecret-looking\n-----END PRIVATE KEY-----'),
      (e: Error) => {
        assert.doesNotMatch(e.message, /secret-looking/);
        return /not a PEM private key/.test(e.message);
      },
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(() => NodeKey.fromPem(rsa), /must be an Ed25519 private key, not rsa/);
  });
});
