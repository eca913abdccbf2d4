import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameRewriter, PENDING } from '../../../../protocols/postgres/wire/frame-rewriter.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes, bytewise, splitsOf } from '../../../support/byte-builder.js';

const keep = new Bytes().cstring('SELECT 1').frame('Q');
const drop = new Bytes().cstring('DELETE FROM x').frame('Q');
const copyData = new Bytes().raw(Buffer.alloc(200, 1)).frame('d');
const sync = new Bytes().frame('S');
const replacement = new Bytes().cstring('idgate_denied_1').frame('Q');
const input = Buffer.concat([keep, copyData, drop, sync, keep]);
const expected = Buffer.concat([keep, copyData, replacement, sync, keep]);

function rewrite(chunks: readonly Buffer[]): { output: Buffer; judged: string[] } {
  const judged: string[] = [];
  const r = new FrameRewriter(
    (code) => code === 0x51,
    (_code, frame) => {
      const sql = frame.toString('utf8', 5, frame.length - 1);
      judged.push(sql);
      return sql.startsWith('DELETE') ? replacement : undefined;
    },
  );
  return { output: Buffer.concat(chunks.flatMap((c) => r.process(c))), judged };
}

describe('FrameRewriter', () => {
  it('replaces exactly the frames the transform replaces and passes every other byte', () => {
    const { output, judged } = rewrite([input]);
    assert.deepEqual(output, expected);
    assert.deepEqual(judged, ['SELECT 1', 'DELETE FROM x', 'SELECT 1']);
  });

  it('gives the same bytes however the input is cut, judging each frame once and whole', () => {
    for (const split of splitsOf(input)) {
      const { output, judged } = rewrite(split);
      assert.deepEqual(output, expected);
      assert.deepEqual(judged, ['SELECT 1', 'DELETE FROM x', 'SELECT 1']);
    }
    assert.deepEqual(rewrite(bytewise(input)).output, expected);
  });

  it('forwards nothing of a frame of interest before it is complete', () => {
    const r = new FrameRewriter(
      (code) => code === 0x51,
      () => undefined,
    );
    const out = r.process(drop.subarray(0, drop.length - 1));
    assert.equal(Buffer.concat(out).length, 0);
    assert.deepEqual(Buffer.concat(r.process(drop.subarray(drop.length - 1))), drop);
  });

  it('refuses bad lengths and frames of interest over its limit', () => {
    assert.throws(
      () =>
        new FrameRewriter(
          () => true,
          () => undefined,
        ).process(Buffer.from([0x51, 0, 0, 0, 2])),
      ProtocolError,
    );
    assert.throws(
      () =>
        new FrameRewriter(
          () => true,
          () => undefined,
          100,
        ).process(Buffer.from([0x51, 0, 0, 1, 0])),
      ProtocolError,
    );
  });

  it('stops at a frame judged later and goes on from there once answered — however the stream is cut', () => {
    const late = new Bytes().cstring('DELETE FROM later').frame('Q');
    const stream = Buffer.concat([keep, copyData, late, sync, drop, keep]);
    const wanted = Buffer.concat([keep, copyData, replacement, sync, replacement, keep]);
    for (const split of [...splitsOf(stream), bytewise(stream)]) {
      const rewriter = new FrameRewriter(
        (code) => code === 0x51,
        (_code, frame) => {
          const sql = frame.subarray(5, frame.length - 1).toString();
          if (sql === 'DELETE FROM later') return PENDING;
          return sql === 'DELETE FROM x' ? replacement : undefined;
        },
      );
      const out: Buffer[] = [];
      const queue = [...split];
      let stops = 0;
      while (queue.length > 0) {
        out.push(...rewriter.process(queue.shift() ?? Buffer.alloc(0)));
        while (rewriter.pending) {
          stops += 1;
          out.push(...rewriter.resume(replacement));
        }
      }
      assert.equal(stops, 1);
      assert.ok(Buffer.concat(out).equals(wanted), `split ${split.map((b) => b.length).join('+')}`);
    }
  });
});
