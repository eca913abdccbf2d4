import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundValuesText, readBoundValues, valueOnWire } from '../../../../protocols/postgres/policy/bound-values.js';

const INT8 = 20;
const FLOAT8 = 701;
const TEXT = 25;
/** 10^18 as a bigint's eight bytes: as a double precision they read as about 1.6e-242. */
const BIG = Buffer.from('0de0b6b3a7640000', 'hex');

describe('bound values as an approval pins them', () => {
  it('tells apart the same bytes bound under different parameter types', () => {
    const asBigint = boundValuesText([INT8], [1], [BIG]);
    const asDouble = boundValuesText([FLOAT8], [1], [BIG]);
    assert.notEqual(asBigint, asDouble);
    assert.deepEqual(JSON.parse(asBigint), { types: [INT8], values: [{ base64: BIG.toString('base64') }] });
  });

  it('reads types the Parse left to the server (0, or none) alike', () => {
    const values = [Buffer.from('7'), null];
    assert.equal(boundValuesText([], [], values), '["7",null]');
    assert.equal(boundValuesText([0, 0], [], values), '["7",null]');
    assert.equal(boundValuesText([TEXT, 0], [], values), boundValuesText([TEXT], [0], values));
    assert.notEqual(boundValuesText([0, TEXT], [], values), boundValuesText([TEXT], [], values), 'a type names its own parameter');
  });

  it('tells a binary value from a text value with the same bytes, UTF-8 or not', () => {
    const bytes = Buffer.from([0xff, 0x01]);
    assert.notEqual(boundValuesText([], [0], [bytes]), boundValuesText([], [1], [bytes]));
    const utf8 = Buffer.from('7');
    assert.notEqual(boundValuesText([], [0], [utf8]), boundValuesText([], [1], [utf8]));
    // One format code applies to every value; one per value applies to each.
    assert.equal(boundValuesText([], [1], [utf8, utf8]), boundValuesText([], [1, 1], [utf8, utf8]));
    assert.notEqual(boundValuesText([], [1, 0], [utf8, utf8]), boundValuesText([], [1], [utf8, utf8]));
  });

  it('reads back what it wrote, for the dry run', () => {
    const text = boundValuesText([INT8, 0, TEXT], [1, 0, 0], [BIG, Buffer.from([0xfe]), null]);
    assert.deepEqual(readBoundValues(text), {
      types: [INT8, 0, TEXT],
      values: [{ base64: BIG.toString('base64') }, { textBase64: Buffer.from([0xfe]).toString('base64') }, null],
    });
    assert.deepEqual(readBoundValues('["a",null]'), { types: [], values: ['a', null] });
    // And as a Bind carries them again: the same bytes, each in its format.
    const read = readBoundValues(text);
    assert.ok(typeof read !== 'string');
    assert.deepEqual(read.values.map(valueOnWire), [
      { bytes: BIG, binary: true },
      { bytes: Buffer.from([0xfe]), binary: false },
      { bytes: null, binary: false },
    ]);
  });

  it('refuses what it did not write', () => {
    for (const bad of [
      '',
      '{',
      '7',
      'null',
      '{"values":[]}',
      '{"types":[-1],"values":[]}',
      '[{"base64":1}]',
      '[{"base64":"","x":""}]',
      '[[]]',
    ]) {
      assert.equal(typeof readBoundValues(bad), 'string', bad);
    }
  });
});
