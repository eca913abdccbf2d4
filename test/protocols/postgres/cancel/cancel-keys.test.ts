import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelKeys, type CancelRoute } from '../../../../protocols/postgres/cancel/cancel-keys.js';

const route = (host: string, processId: number, secretKey: number): CancelRoute => ({
  target: { host, port: 5432, tls: 'disable', connectTimeoutMs: 1000 },
  upstreamKey: { processId, secretKey },
  sessionId: `${host}-${processId}`,
});

describe('CancelKeys', () => {
  it('gives the client the upstream’s real pid with a secret of its own, and routes only the exact pair', () => {
    const keys = new CancelKeys();
    const a = route('db-a', 4242, 111);
    const key = keys.issue(a);
    assert.equal(key.processId, 4242);
    assert.notEqual(key.secretKey, 111, 'the upstream’s secret never reaches the client');
    assert.equal(keys.lookup(4242, key.secretKey), a);
    assert.equal(keys.lookup(4242, 111), undefined, 'the upstream’s own secret cancels nothing through the gateway');
    assert.equal(keys.lookup(4243, key.secretKey), undefined);
  });

  it('keeps two upstreams’ sessions with the same pid apart by their secrets, and forgets released keys', () => {
    const keys = new CancelKeys();
    const a = route('db-a', 77, 1);
    const b = route('db-b', 77, 2);
    const ka = keys.issue(a);
    const kb = keys.issue(b);
    assert.notEqual(ka.secretKey, kb.secretKey);
    assert.equal(keys.lookup(77, ka.secretKey), a);
    assert.equal(keys.lookup(77, kb.secretKey), b);
    assert.equal(keys.size, 2);
    keys.release(ka);
    assert.equal(keys.lookup(77, ka.secretKey), undefined);
    assert.equal(keys.lookup(77, kb.secretKey), b);
    keys.release(ka);
    assert.equal(keys.size, 1, 'releasing twice counts once');
    keys.release(kb);
    assert.equal(keys.size, 0);
  });
});
