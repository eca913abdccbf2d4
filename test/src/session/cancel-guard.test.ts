import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelGuard, sourceKey, type CancelGuessSummary } from '../../../src/session/cancel-guard.js';

describe('the cancel guard', () => {
  function guard(perMinute = 3): { g: CancelGuard; summaries: CancelGuessSummary[]; clock: { ms: number } } {
    const summaries: CancelGuessSummary[] = [];
    const clock = { ms: 1_000_000 };
    return {
      g: new CancelGuard(
        (s) => void summaries.push(s),
        perMinute,
        () => clock.ms,
      ),
      summaries,
      clock,
    };
  }

  it('admits a source until it has named that many wrong keys in a minute, then drops everything it sends for the rest of it', () => {
    const { g, summaries, clock } = guard();
    for (let i = 0; i < 3; i++) {
      assert.equal(g.admit('10.0.0.1'), true);
      g.wrongKey('10.0.0.1');
    }
    assert.equal(g.admit('10.0.0.1'), false, 'a fourth, right key or not, is dropped unread');
    assert.equal(g.admit('10.0.0.1'), false);
    assert.equal(g.admit('10.0.0.2'), true, 'another source has its own budget');
    clock.ms += 60_000;
    assert.equal(g.admit('10.0.0.1'), true, 'a new minute, a new budget');
    assert.deepEqual(summaries, [{ source: '10.0.0.1', wrong: 3, dropped: 2, sinceMs: 1_000_000 }]);
    g.close();
  });

  it('summarises every source with wrong keys when it closes, and none that only cancelled rightly', () => {
    const { g, summaries } = guard();
    g.admit('10.0.0.3');
    g.admit('10.0.0.4');
    g.wrongKey('10.0.0.4');
    g.close();
    assert.deepEqual(
      summaries.map((s) => [s.source, s.wrong, s.dropped]),
      [['10.0.0.4', 1, 0]],
    );
  });

  it('gives an IPv6 /64 one budget, so rotating addresses within it does not buy more guesses', () => {
    const { g } = guard(2);
    g.wrongKey('2001:db8:1:2::1');
    g.wrongKey('2001:0db8:0001:0002:ffff:1:2:3');
    assert.equal(g.admit('2001:db8:1:2::abcd'), false);
    assert.equal(g.admit('2001:db8:1:3::1'), true, 'another /64');
    assert.equal(sourceKey('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.equal(sourceKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
    g.close();
  });
});
