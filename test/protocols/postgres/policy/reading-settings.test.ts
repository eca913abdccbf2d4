import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changesReading, readingSettingsOf } from '../../../../protocols/postgres/policy/reading-settings.js';

describe('settings that change how a session reads statements', () => {
  it('counts every setting but those known to change only speed, waits, messages or the label', () => {
    for (const name of [
      'DateStyle',
      'timezone',
      'IntervalStyle',
      'transform_null_equals',
      'array_nulls',
      'search_path',
      'app.tenant',
      'lc_monetary',
    ]) {
      assert.equal(changesReading(name, 'x'), true, name);
    }
    for (const name of [
      'application_name',
      'statement_timeout',
      'work_mem',
      'enable_hashjoin',
      'geqo_effort',
      'jit_above_cost',
      'client_encoding',
    ]) {
      assert.equal(changesReading(name, 'x'), false, name);
    }
  });

  it('counts extra_float_digits unless it is above 0, where floats are written alike', () => {
    for (const v of ['1', '3', ' 2 ', '+3', '03']) assert.equal(changesReading('extra_float_digits', v), false, v);
    for (const v of [undefined, '0', '-1', '-15', 'x', '1.5', '']) assert.equal(changesReading('extra_float_digits', v), true, String(v));
  });

  it("pins a login's settings by name, each its last value, in one order", () => {
    assert.equal(readingSettingsOf([]), undefined);
    assert.equal(
      readingSettingsOf([
        ['application_name', 'psql'],
        ['client_encoding', 'LATIN1'],
      ]),
      undefined,
    );
    const a = readingSettingsOf([
      ['timezone', 'UTC'],
      ['DateStyle', 'ISO, MDY'],
      ['datestyle', 'ISO, DMY'],
      ['extra_float_digits', '3'],
    ]);
    const b = readingSettingsOf([
      ['datestyle', 'ISO, DMY'],
      ['TimeZone', 'UTC'],
    ]);
    assert.equal(a, '{"datestyle":"ISO, DMY","timezone":"UTC"}');
    assert.equal(a, b, 'the order asked in and the case of a name do not matter');
    assert.equal(
      readingSettingsOf([
        ['extra_float_digits', '0'],
        ['extra_float_digits', '3'],
      ]),
      undefined,
      'the last value decides',
    );
  });
});
