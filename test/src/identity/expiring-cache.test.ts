import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpiringCache } from '../../../src/identity/expiring-cache.js';

describe('ExpiringCache', () => {
  it('shares one load among concurrent asks, reuses the answer until it expires, and does not keep failures', async () => {
    const cache = new ExpiringCache<number>(100);
    let loads = 0;
    let fail = false;
    const load = async (): Promise<number> => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 10));
      if (fail) throw new Error('down');
      return loads;
    };
    assert.deepEqual(await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]), [1, 1, 1]);
    assert.equal(await cache.get('k', load), 1);
    assert.equal(loads, 1);
    await new Promise((r) => setTimeout(r, 120));
    fail = true;
    await assert.rejects(cache.get('k', load), /down/);
    fail = false;
    assert.equal(await cache.get('k', load), 3, 'a failure is asked again, not remembered');
  });

  it('with a zero lifetime always asks, and drops the oldest entry when full', async () => {
    let loads = 0;
    const uncached = new ExpiringCache<number>(0);
    await uncached.get('k', async () => ++loads);
    await uncached.get('k', async () => ++loads);
    assert.equal(loads, 2);
    const small = new ExpiringCache<string>(60_000, 2);
    await small.get('a', async () => 'a1');
    await small.get('b', async () => 'b1');
    await small.get('c', async () => 'c1');
    assert.equal(await small.get('a', async () => 'a2'), 'a2', 'the oldest was dropped');
    assert.equal(await small.get('c', async () => 'c2'), 'c1');
  });
});
