import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDurationMs } from '../../../src/config/duration.js';
import { durationMs } from '../../../src/config/resolve-limits.js';
import { parseDurationUs } from '../../../src/cli/parse-time.js';

describe('one duration grammar for the configuration and the command line', () => {
  it('reads every unit, minutes spelled m or min', () => {
    const cases: [string, number][] = [
      ['250ms', 250],
      ['30s', 30_000],
      ['10m', 600_000],
      ['10min', 600_000],
      ['1.5h', 5_400_000],
      ['90d', 7_776_000_000],
      ['12w', 7_257_600_000],
      [' 5 s ', 5000],
    ];
    for (const [text, ms] of cases) {
      assert.equal(parseDurationMs(text), ms, text);
      assert.equal(durationMs(text), ms, `config: ${text}`);
      assert.equal(parseDurationUs(text), ms * 1000, `CLI: ${text}`);
    }
    assert.equal(durationMs(2.5), 2500, 'the configuration also takes a number of seconds');
  });

  it('refuses what is not one', () => {
    for (const text of ['', '10', 'm', '10 minutes', '10mins', '-5s', '1e3s', '10M', '5sec']) {
      assert.equal(parseDurationMs(text), undefined, text);
      assert.equal(parseDurationUs(text), undefined, `CLI: ${text}`);
    }
  });
});
