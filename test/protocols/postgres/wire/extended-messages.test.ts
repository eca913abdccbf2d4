import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serialize } from 'pg-protocol';
import {
  decodeBind,
  decodeCopyFail,
  decodeDescribeOrClose,
  decodeExecute,
  decodeFunctionCall,
  isBinaryFormat,
} from '../../../../protocols/postgres/wire/extended-messages.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes } from '../../../support/byte-builder.js';

const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError;

/** Every proper prefix of a frame, its length field kept: what a lying or cut-off client could send. */
function everyTruncation(frame: Buffer): Buffer[] {
  return Array.from({ length: frame.length - 5 }, (_, n) => frame.subarray(0, 5 + n));
}

describe('extended-protocol decoders against node-postgres’s serializer', () => {
  it('decode a Bind with text, binary and NULL values and its result formats', () => {
    const frame = serialize.bind({
      portal: 'p1',
      statement: 'get',
      values: ['7', Buffer.from([0xde, 0xad]), null],
      valueMapper: (v: unknown) => v as string | Buffer | null,
      binary: true,
    });
    const bind = decodeBind(frame);
    assert.equal(bind.portal, 'p1');
    assert.equal(bind.statement, 'get');
    assert.deepEqual(bind.parameterFormats, [0, 1, 0]);
    assert.deepEqual(
      bind.values.map((v) => v?.toString('hex') ?? null),
      [Buffer.from('7').toString('hex'), 'dead', null],
    );
    assert.deepEqual(bind.resultFormats, [1]);
    assert.deepEqual(
      bind.values.map((_, i) => isBinaryFormat(bind.parameterFormats, i)),
      [false, true, false],
    );
  });

  it('read one format for all values, as the protocol allows', () => {
    const frame = new Bytes().cstring('').cstring('s').int16(1).int16(1).int16(2).int32(1).raw('\x01').int32(-1).int16(0).frame('B');
    const bind = decodeBind(frame);
    assert.deepEqual([isBinaryFormat(bind.parameterFormats, 0), isBinaryFormat(bind.parameterFormats, 1)], [true, true]);
    assert.deepEqual(bind.values, [Buffer.from([1]), null]);
  });

  it('decode Execute, Describe and Close of statements and portals', () => {
    assert.deepEqual(decodeExecute(serialize.execute({ portal: 'p1', rows: 50 })), { portal: 'p1', maxRows: 50 });
    assert.deepEqual(decodeDescribeOrClose(serialize.describe({ type: 'S', name: 'get' })), { target: 'statement', name: 'get' });
    assert.deepEqual(decodeDescribeOrClose(serialize.describe({ type: 'P', name: '' })), { target: 'portal', name: '' });
    assert.deepEqual(decodeDescribeOrClose(serialize.close({ type: 'S', name: 'old' })), { target: 'statement', name: 'old' });
  });

  it('decode a FunctionCall and a CopyFail (fixtures from the protocol documentation)', () => {
    const call = new Bytes().int32(-16).int16(1).int16(1).int16(2).int32(4).int32(42).int32(-1).int16(0).frame('F');
    const decoded = decodeFunctionCall(call);
    assert.equal(decoded.functionOid, 0xfffffff0);
    assert.deepEqual(decoded.values, [Buffer.from([0, 0, 0, 42]), null]);
    assert.equal(decoded.resultFormat, 0);
    assert.equal(decodeCopyFail(serialize.copyFail('client gave up')), 'client gave up');
  });

  it('refuse every truncation with a ProtocolError, never an out-of-range read', () => {
    const frames: [string, Buffer, (f: Buffer) => unknown][] = [
      ['Bind', serialize.bind({ portal: 'p', statement: 's', values: ['1', null], binary: false }), decodeBind],
      ['Execute', serialize.execute({ portal: 'p', rows: 1 }), decodeExecute],
      ['Describe', serialize.describe({ type: 'S', name: 'x' }), decodeDescribeOrClose],
      ['FunctionCall', new Bytes().int32(1).int16(0).int16(1).int32(2).raw('ab').int16(0).frame('F'), decodeFunctionCall],
      ['CopyFail', serialize.copyFail('x'), decodeCopyFail],
    ];
    for (const [name, frame, decode] of frames) {
      for (const cut of everyTruncation(frame)) assert.throws(() => decode(cut), isProtocolError, `${name} cut to ${cut.length} bytes`);
    }
  });

  it('refuse a value length that is negative but not -1, or longer than the frame', () => {
    const negative = new Bytes().cstring('').cstring('').int16(0).int16(1).int32(-2).int16(0).frame('B');
    assert.throws(() => decodeBind(negative), isProtocolError);
    const long = new Bytes().cstring('').cstring('').int16(0).int16(1).int32(1000).raw('x').int16(0).frame('B');
    assert.throws(() => decodeBind(long), isProtocolError);
  });
});
