import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { medianInterval } from './bench/median-interval.js';

describe('medianInterval (the bench’s spread of paired rounds)', () => {
  it('gives no interval for fewer than six values at 95%: even the extremes would miss the median too often', () => {
    assert.equal(medianInterval([1, 2, 3, 4, 5]), undefined);
    assert.equal(medianInterval([]), undefined);
  });

  it('takes the extremes for six values (96.9%), and tightens by order statistics as rounds are added', () => {
    const six = medianInterval([6, 1, 5, 2, 4, 3]);
    assert.deepEqual(six && { ...six, level: Number(six.level.toFixed(4)) }, { median: 3.5, low: 1, high: 6, level: 0.9688 });
    // n = 12: P(X ≤ 2) = 79/4096, so [x(3), x(10)] at 96.1%.
    const twelve = medianInterval([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert.equal(twelve?.low, 3);
    assert.equal(twelve?.high, 10);
    assert.equal(twelve?.median, 6.5);
    assert.equal(twelve?.level.toFixed(4), (1 - (2 * 79) / 4096).toFixed(4));
  });

  it('ignores rounds that produced no figure', () => {
    assert.equal(medianInterval([NaN, 1, 2, 3, 4, 5, 6, Infinity])?.median, 3.5);
  });

  it('at 90% for nine values takes [x(2), x(8)]', () => {
    // 2·P(X ≤ 1) = 20/512 ≤ 0.1, 2·P(X ≤ 2) = 92/512 > 0.1.
    const nine = medianInterval([9, 8, 7, 6, 5, 4, 3, 2, 1], 0.9);
    assert.equal(nine?.low, 2);
    assert.equal(nine?.high, 8);
  });
});
