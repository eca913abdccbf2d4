import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryDelay } from '../../../../src/audit/central/retry-delay.js';

describe('the shipper’s retry delay', () => {
  it('doubles from 1 s to 15 s, each wait in the upper half of its step, and starts again after a success', () => {
    const low = new RetryDelay(1000, 15_000, () => 0);
    const high = new RetryDelay(1000, 15_000, () => 0.999999);
    const steps = [1000, 2000, 4000, 8000, 15_000, 15_000];
    for (const step of steps) {
      assert.equal(low.take(), step / 2);
      assert.ok(Math.abs(high.take() - step) < 1);
    }
    low.reset();
    assert.equal(low.take(), 500);
  });

  it('spreads a fleet that failed at the same moment', () => {
    const waits = Array.from({ length: 50 }, () => new RetryDelay().take());
    assert.ok(new Set(waits.map((w) => Math.round(w / 50))).size > 5, 'fifty gateways do not all come back in the same 50 ms');
  });
});
