import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawFrameBatch, storedFrames } from '../../../../protocols/postgres/recording/raw-frames.js';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import { PASS, SEE } from '../../../../protocols/postgres/wire/frame-stage.js';
import { Bytes, bytewise, splitsOf } from '../../../support/byte-builder.js';

const query = new Bytes().cstring('SELECT 1').frame('Q');
const parse = new Bytes().cstring('').cstring('SELECT $1').int16(0).frame('P');
const sync = new Bytes().frame('S');
const copyData = new Bytes().raw(Buffer.alloc(40, 7)).frame('d');
const stream = Buffer.concat([query, copyData, copyData, parse, sync]);

/** The stored form of an elided frame, built by hand: 0x00, its type, its length field. */
function marker(code: string, length: number): Buffer {
  const b = Buffer.alloc(6);
  b.write(code, 1, 'latin1');
  b.writeInt32BE(length, 2);
  return b;
}
const stored = Buffer.concat([query, marker('d', copyData.length - 1), marker('d', copyData.length - 1), parse, sync]);

/** Scans the chunks like the relay does, one batch per chunk, and returns what each batch copied out. */
function record(chunks: readonly Buffer[]): Buffer[] {
  const interest = new Uint8Array(256);
  for (const code of 'QPSd') interest[code.charCodeAt(0)] = 1;
  const batch = new RawFrameBatch();
  const scanner = new FrameStream([
    {
      interest,
      header: (code, length) => (code === 0x64 ? (batch.addElided(code, length), PASS) : SEE),
      see: (_code, bytes, start, end) => batch.add(bytes, start, end),
    },
  ]);
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    scanner.push(chunk);
    if (batch.isEmpty) continue;
    const copy = Buffer.alloc(batch.byteLength + 2, 0xee);
    batch.copyTo(copy, 1); // at an offset, and no byte past its length
    assert.equal(copy[0], 0xee);
    assert.equal(copy[copy.length - 1], 0xee);
    out.push(copy.subarray(1, -1));
    batch.clear();
    assert.equal(batch.isEmpty, true);
    assert.equal(batch.byteLength, 0);
  }
  return out;
}

describe('RawFrameBatch', () => {
  it('keeps the frames asked for as they came and an elided frame as its marker', () => {
    assert.deepEqual(record([stream]), [stored]);
  });

  it('stores the same bytes however the stream is cut', () => {
    for (const split of splitsOf(stream)) assert.deepEqual(Buffer.concat(record(split)), stored);
    assert.deepEqual(Buffer.concat(record(bytewise(stream))), stored);
  });

  it('copies long frames and many markers whole', () => {
    const long = new Bytes().cstring('x'.repeat(5000)).frame('Q');
    const many = Buffer.concat([...Array.from({ length: 100 }, () => copyData), long, query]);
    const expected = Buffer.concat([...Array.from({ length: 100 }, () => marker('d', copyData.length - 1)), long, query]);
    assert.deepEqual(Buffer.concat(record([many])), expected);
    assert.deepEqual(Buffer.concat(record([many.subarray(0, 4321), many.subarray(4321)])), expected);
  });

  it('copies ranges of several buffers in the order they were added, adjacent or not', () => {
    const a = Buffer.from('abcdef');
    const b = Buffer.from('ghij');
    const batch = new RawFrameBatch();
    batch.add(a, 0, 2);
    batch.add(a, 2, 5); // adjacent: extends the range
    batch.add(b, 1, 3);
    batch.add(a, 5, 6); // adjacent to a range that is no longer the last: a new one
    const out = Buffer.alloc(batch.byteLength);
    batch.copyTo(out, 0);
    assert.equal(out.toString(), 'abcdehif');
  });

  it('reads a stored chunk back frame by frame: each kept frame a view of the chunk, each marker its type and length', () => {
    const read = [...storedFrames(stored)];
    assert.deepEqual(
      read.map((f) => [String.fromCharCode(f.code), f.length, f.frame === undefined ? undefined : Buffer.from(f.frame)]),
      [
        ['Q', query.length - 1, query],
        ['d', copyData.length - 1, undefined],
        ['d', copyData.length - 1, undefined],
        ['P', parse.length - 1, parse],
        ['S', 4, sync],
      ],
    );
    const parsed = read[3]?.frame;
    assert.ok(
      parsed?.buffer === stored.buffer && parsed.byteOffset === stored.byteOffset + query.length + 12,
      'a view of the chunk, not a copy',
    );
  });

  it('refuses a stored chunk cut short, in a frame or in a marker', () => {
    for (const cut of [query.length - 1, query.length + 3]) {
      assert.throws(() => [...storedFrames(stored.subarray(0, cut))]);
    }
  });
});
