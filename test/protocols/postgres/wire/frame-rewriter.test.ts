import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameRewriter, PENDING } from '../../../../protocols/postgres/wire/frame-rewriter.js';
import { LENGTH_ONLY, WHOLE, type HoldAccount } from '../../../../protocols/postgres/wire/frame-scanner.js';
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

describe('FrameRewriter telling the readers of what goes out (one framing for the gate and the recorder)', () => {
  const bind = new Bytes().cstring('').cstring('').int16(0).int16(1).int32(3).raw('abc').int16(0).frame('B');
  const terminate = new Bytes().frame('X');
  const stream = Buffer.concat([keep, copyData, bind, drop, sync, terminate]);
  const sent = Buffer.concat([keep, copyData, bind, replacement, sync, terminate]);
  /** WHOLE for Query, Bind and Terminate; the length of CopyData and Sync. */
  const interest = new Uint8Array(256);
  for (const code of [0x51, 0x42, 0x58]) interest[code] = WHOLE;
  for (const code of [0x64, 0x53]) interest[code] = LENGTH_ONLY;
  const told = [
    'Q' + keep.toString('hex'),
    'd:204',
    'B' + bind.toString('hex'),
    'Q' + replacement.toString('hex'),
    'S:4',
    'X' + terminate.toString('hex'),
  ];

  function rewriteTelling(
    chunks: readonly Buffer[],
    account?: HoldAccount,
  ): { output: Buffer; seen: string[]; rewriter: FrameRewriter; outputs: Buffer[] } {
    const seen: string[] = [];
    const r = new FrameRewriter(
      (code) => code === 0x51,
      (_code, frame) => (frame.toString('utf8', 5, frame.length - 1).startsWith('DELETE') ? replacement : undefined),
      1 << 20,
      account === undefined ? {} : { account },
    );
    r.setOutgoing({
      interest,
      maxFrame: 1 << 20,
      onFrame: (code, length, bytes, start, end) =>
        // The bytes are only valid during the call: read them now.
        seen.push(
          bytes === undefined ? `${String.fromCharCode(code)}:${length}` : String.fromCharCode(code) + bytes.toString('hex', start, end),
        ),
    });
    const outputs = chunks.flatMap((c) => r.process(c));
    return { output: Buffer.concat(outputs), seen, rewriter: r, outputs };
  }

  it('tells the reader of every frame it asked for, as sent (a replacement as the replacement), however the input is cut', () => {
    for (const split of [[stream], ...splitsOf(stream), bytewise(stream)]) {
      const { output, seen, rewriter } = rewriteTelling(split);
      assert.deepEqual(output, sent);
      assert.deepEqual(seen, told);
      assert.equal(rewriter.outputAtBoundary && rewriter.inputAtBoundary, true);
    }
  });

  it('stops at the body of a frame its reader needs whole when the budget cannot take it, then goes on with nothing lost', () => {
    let blockedSplits = 0;
    for (const split of splitsOf(stream)) {
      let room = 0;
      const account: HoldAccount = {
        reserve: () => undefined,
        tryReserve: (b) => b <= room,
        release: () => undefined,
        whenReleased: () => undefined,
      };
      const { seen, rewriter, outputs } = rewriteTelling([], account);
      const unblock = (): void => {
        assert.equal(rewriter.outputAtBoundary, false, 'the blocked frame’s header went out, its body did not');
        assert.equal(rewriter.retryBlocked(), undefined, 'no room yet: still blocked');
        room = Number.MAX_SAFE_INTEGER;
        outputs.push(...(rewriter.retryBlocked() ?? assert.fail('room now')));
        room = 0;
        blockedSplits += 1;
      };
      for (const chunk of split) {
        // Like the client intake: nothing more is read while the rewriter waits for the budget.
        if (rewriter.isBlocked) unblock();
        outputs.push(...rewriter.process(chunk));
      }
      if (rewriter.isBlocked) unblock();
      assert.deepEqual(Buffer.concat(outputs), sent);
      assert.deepEqual(seen, told);
    }
    assert.ok(blockedSplits > 0, 'some cuts made Bind arrive in two chunks, to be assembled');
  });

  it('refuses a passed-through frame over the limit at its header', () => {
    const r = new FrameRewriter(
      (code) => code === 0x51,
      () => undefined,
    );
    r.setOutgoing({ interest, maxFrame: 100, onFrame: () => undefined });
    assert.throws(
      () => r.process(copyData),
      (e: unknown) => e instanceof ProtocolError && e.code === 'message-too-large',
    );
  });
});

describe('FrameRewriter finishing the message in flight', () => {
  it('forwards only as far as the end of the message the reader is inside, however that message was cut', () => {
    const row = new Bytes().int16(1).int32(6).raw('abcdef').frame('D');
    const after = Buffer.concat([new Bytes().cstring('SELECT 1').frame('C'), new Bytes().raw('I').frame('Z')]);
    for (let cut = 1; cut < row.length; cut++) {
      const r = new FrameRewriter(
        (code) => code === 0x45, // ErrorResponse: held and judged; DataRow passes
        () => undefined,
      );
      const first = Buffer.concat(r.process(row.subarray(0, cut)));
      const rest = Buffer.concat(r.processUntilBoundary(Buffer.concat([row.subarray(cut), after])));
      if (cut < 5) {
        // A header cut short is held until its type is known: nothing of the message went out, so nothing more goes.
        assert.equal(first.length + rest.length, 0, `cut ${cut}`);
      } else {
        assert.ok(Buffer.concat([first, rest]).equals(row), `cut ${cut}: the DataRow finished, nothing after it`);
      }
      assert.equal(r.outputAtBoundary, true);
    }
  });
});
