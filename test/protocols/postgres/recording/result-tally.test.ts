import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawFrameBatch, decodeServerFrames } from '../../../../protocols/postgres/recording/raw-frames.js';
import { MAX_COUNT, ResultTally, type Delivered } from '../../../../protocols/postgres/recording/result-tally.js';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import { SEE, type FrameStage } from '../../../../protocols/postgres/wire/frame-stage.js';
import { SessionActivity } from '../../../../src/session/session-activity.js';
import { Bytes, bytewise, splitsOf } from '../../../support/byte-builder.js';

const tag = (text: string): Buffer => new Bytes().cstring(text).frame('C');
const row = (...values: string[]): Buffer => {
  const b = new Bytes().int16(values.length);
  for (const v of values) b.int32(v.length).raw(Buffer.from(v));
  return b.frame('D');
};
const ready = new Bytes().raw(Buffer.from('I')).frame('Z');
const rowDescription = new Bytes().int16(1).cstring('g').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).frame('T');
const copyOut = new Bytes().int8(0).int16(1).int16(0).frame('H');
const copyData = (text: string): Buffer => new Bytes().raw(Buffer.from(text)).frame('d');
const copyDone = new Bytes().frame('c');
const error = new Bytes().raw(Buffer.from('SERROR\0C22012\0Mdivision by zero\0\0')).frame('E');
const notice = new Bytes().raw(Buffer.from('SNOTICE\0C00000\0Mhello\0\0')).frame('N');
const empty = new Bytes().frame('I');
const suspended = new Bytes().frame('s');
const parseComplete = new Bytes().frame('1');

/** Statements, each its frames and what the tally must say of it (bytes: from after the previous outcome through its own). */
const statements: { frames: Buffer[]; returned: number; affected: number }[] = [
  { frames: [rowDescription, row('1'), row('2'), row('3'), tag('SELECT 3')], returned: 3, affected: 0 },
  // A COPY TO with a header row: three CopyData frames, two rows.
  { frames: [ready, copyOut, copyData('g\n'), copyData('1\n'), copyData('2\n'), copyDone, tag('COPY 2')], returned: 2, affected: 0 },
  { frames: [ready, rowDescription, row('1'), notice, error], returned: 1, affected: 0 },
  { frames: [ready, tag('INSERT 0 5')], returned: 0, affected: 5 },
  { frames: [ready, rowDescription, row('7'), row('8'), tag('INSERT 0 2')], returned: 2, affected: 2 },
  { frames: [ready, tag('UPDATE 12')], returned: 0, affected: 12 },
  { frames: [ready, tag('DELETE 0')], returned: 0, affected: 0 },
  { frames: [ready, tag('MERGE 4')], returned: 0, affected: 4 },
  { frames: [ready, tag('MOVE 9')], returned: 0, affected: 0 },
  { frames: [ready, tag('FETCH 2')], returned: 0, affected: 0 },
  // CREATE TABLE AS: "SELECT n" with no row sent.
  { frames: [ready, tag('SELECT 40')], returned: 0, affected: 40 },
  { frames: [ready, tag('COPY 6')], returned: 0, affected: 6 },
  { frames: [ready, empty], returned: 0, affected: 0 },
  { frames: [ready, parseComplete, row('a'), row('b'), suspended], returned: 2, affected: 0 },
  { frames: [row('c'), tag('SELECT 1')], returned: 1, affected: 0 },
  { frames: [ready, tag('CREATE TABLE')], returned: 0, affected: 0 },
  { frames: [tag('SET')], returned: 0, affected: 0 },
];
const stream = Buffer.concat(statements.flatMap((s) => s.frames));
const expected: Delivered[] = statements.map((s) => ({
  returned: s.returned,
  affected: s.affected,
  bytes: Buffer.concat(s.frames).length,
}));

/** Runs the server's bytes through a stream with the tally, and a stage after it that notes `last` at each outcome (as the recorder does). */
function tally(chunks: readonly Buffer[]): { closed: Delivered[]; activity: SessionActivity } {
  const activity = new SessionActivity();
  const counted = new ResultTally(activity);
  const closed: Delivered[] = [];
  const interest = new Uint8Array(256);
  for (const code of 'CEIs') interest[code.charCodeAt(0)] = 1;
  const after: FrameStage = { interest, header: () => SEE, see: () => void closed.push({ ...counted.last }) };
  const frames = new FrameStream([counted, after]);
  for (const chunk of chunks) frames.push(chunk);
  return { closed, activity };
}

describe('ResultTally', () => {
  it('closes each statement at its outcome with the rows sent, the rows written and every byte since the previous outcome', () => {
    const { closed, activity } = tally([stream]);
    assert.deepEqual(closed, expected);
    assert.equal(activity.rowsReturned, 11);
    assert.equal(activity.rowsAffected, 69);
  });

  it('counts the same however the stream is cut', () => {
    for (const split of splitsOf(stream)) assert.deepEqual(tally(split).closed, expected);
    assert.deepEqual(tally(bytewise(stream)).closed, expected);
  });

  it('takes no count from a tag that does not end in one, or from a number not after a space', () => {
    const { closed } = tally([Buffer.concat([tag('INSERT'), tag('UPDATE12'), tag('DELETE 3x'), tag('')])]);
    assert.deepEqual(
      closed.map((d) => d.affected),
      [0, 0, 0, 0],
    );
  });

  it('saturates a count longer than the log keeps (a server’s claim must not stop the relay)', () => {
    const { closed } = tally([tag(`UPDATE ${'9'.repeat(40)}`)]);
    assert.equal(closed[0]?.affected, MAX_COUNT);
    const batch = new RawFrameBatch();
    batch.addTally({ returned: Number.MAX_VALUE, affected: 2 ** 60, bytes: 1 });
    const stored = Buffer.alloc(batch.byteLength);
    batch.copyTo(stored, 0);
    assert.equal(stored.readUIntBE(1, 6), MAX_COUNT);
  });
});

describe('a stored tally', () => {
  it('goes with the outcome before it when the chunk is read back', () => {
    const batch = new RawFrameBatch();
    const outcome = tag('UPDATE 3');
    batch.add(outcome, 0, outcome.length);
    batch.addTally({ returned: 2 ** 40, affected: 3, bytes: 123456 });
    const stored = Buffer.alloc(batch.byteLength);
    batch.copyTo(stored, 0);
    assert.equal(stored.length, outcome.length + 19);
    assert.deepEqual(decodeServerFrames(stored), [
      {
        kind: 'CommandComplete',
        data: { tag: 'UPDATE 3', rows: 3, delivered: { returned: 2 ** 40, affected: 3, bytes: 123456 } },
        outcome: 'ok',
      },
    ]);
    assert.throws(() => decodeServerFrames(stored.subarray(0, stored.length - 1)), 'a tally cut short');
  });
});
