import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RowCap } from '../../../../protocols/postgres/policy/row-cap.js';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import { Bytes } from '../../../support/byte-builder.js';

const dataRow = (i: number): Buffer => new Bytes().int16(1).int32(String(i).length).raw(String(i)).frame('D');
const rowDescription = new Bytes().int16(1).cstring('n').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).frame('T');
const complete = (tag: string): Buffer => new Bytes().cstring(tag).frame('C');
const ready = new Bytes().raw('I').frame('Z');
const copyOut = new Bytes().int8(0).int16(1).int16(0).frame('H');
const copyData = (i: number): Buffer => new Bytes().raw(`${i}\n`).frame('d');
const copyDone = new Bytes().frame('c');

/** Runs the stream through a fresh cap in pieces cut at `cuts`; returns the output and how often it said it capped. */
function run(stream: Buffer, maxRows: number, cuts: readonly number[]): { out: Buffer; capped: number } {
  let capped = 0;
  const cap = new FrameStream([new RowCap(maxRows, () => (capped += 1))]);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    const kept = cap.push(stream.subarray(from, to));
    out.push(...(Buffer.isBuffer(kept) ? [kept] : kept));
    from = to;
  }
  return { out: Buffer.concat(out), capped };
}

/** The frame types of a byte stream, in order (notices spelled N). */
function codes(stream: Buffer): string {
  let s = '';
  for (let p = 0; p < stream.length; p += 1 + stream.readInt32BE(p + 1)) s += String.fromCharCode(stream[p] ?? 0);
  return s;
}

describe('RowCap', () => {
  const rows = (n: number, from = 1): Buffer[] => Array.from({ length: n }, (_, i) => dataRow(from + i));
  const stream = Buffer.concat([
    rowDescription,
    ...rows(15),
    complete('SELECT 15'),
    ready,
    rowDescription,
    ...rows(3),
    complete('SELECT 3'),
    ready,
  ]);
  const expected = Buffer.concat([rowDescription, ...rows(10)]);

  it('passes the first rows, a notice in place of the first row over, and the rest of the protocol unchanged — split at every byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { out, capped } = run(stream, 10, [cut]);
      assert.equal(codes(out), `T${'D'.repeat(10)}NCZT${'D'.repeat(3)}CZ`, `cut at ${cut}`);
      assert.ok(out.subarray(0, expected.length).equals(expected), `cut at ${cut}`);
      assert.match(out.toString('latin1'), /result truncated to 10 rows by the gateway \(limits max-rows\)/);
      assert.ok(out.includes(complete('SELECT 15')), 'the tag still counts every row');
      assert.equal(capped, 1);
    }
  });

  it('takes a stream fed one byte at a time', () => {
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    assert.equal(codes(run(stream, 10, cuts).out), `T${'D'.repeat(10)}NCZT${'D'.repeat(3)}CZ`);
  });

  it('leaves a result at or under the cap untouched', () => {
    const exact = Buffer.concat([rowDescription, ...rows(10), complete('SELECT 10'), ready]);
    const { out, capped } = run(exact, 10, [7]);
    assert.ok(out.equals(exact));
    assert.equal(capped, 0);
  });

  it('caps the rows of a COPY TO STDOUT the same way', () => {
    const copy = Buffer.concat([copyOut, ...Array.from({ length: 5 }, (_, i) => copyData(i)), copyDone, complete('COPY 5'), ready]);
    const { out, capped } = run(copy, 2, [9]);
    assert.equal(codes(out), 'HddNcCZ');
    assert.equal(capped, 1);
  });

  it('counts a portal fetched in pages (PortalSuspended between them) as one result', () => {
    const suspended = new Bytes().frame('s');
    const paged = Buffer.concat([...rows(4), suspended, ...rows(4, 5), suspended, ...rows(4, 9), complete('SELECT 12'), ready]);
    assert.equal(codes(run(paged, 5, []).out), 'DDDDsDNsCZ');
  });

  it('refuses a frame whose length is below 4', () => {
    assert.throws(() => new FrameStream([new RowCap(1, () => undefined)]).push(Buffer.from([0x44, 0, 0, 0, 2])), {
      code: 'frame-too-short',
    });
  });
});
