import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameStream } from '../../../../protocols/postgres/wire/frame-stream.js';
import {
  DROP,
  HOLD,
  PASS,
  PENDING,
  SEE,
  type FrameStage,
  type FrameVerdict,
  type HoldAccount,
} from '../../../../protocols/postgres/wire/frame-stage.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes, bytewise, splitsOf } from '../../../support/byte-builder.js';

const keep = new Bytes().cstring('SELECT 1').frame('Q');
const drop = new Bytes().cstring('DELETE FROM x').frame('Q');
const late = new Bytes().cstring('DELETE FROM later').frame('Q');
const copyData = new Bytes().raw(Buffer.alloc(200, 1)).frame('d');
const sync = new Bytes().frame('S');
const bind = new Bytes().cstring('').cstring('').int16(0).int16(1).int32(3).raw('abc').int16(0).frame('B');
const terminate = new Bytes().frame('X');
const replacement = new Bytes().cstring('idgate_denied_1').frame('Q');
const notice = new Bytes()
  .raw('SWARNING')
  .raw(Buffer.from([0]))
  .raw(Buffer.from([0]))
  .frame('N');

const code = (c: string): number => c.charCodeAt(0);
function interestIn(codes: string): Uint8Array {
  const table = new Uint8Array(256);
  for (const c of codes) table[code(c)] = 1;
  return table;
}

/** A stage that sees the frames of `whole` whole and hears only the length of `lengthOnly`, writing down what it was told. */
function tap(whole: string, lengthOnly = ''): FrameStage & { seen: string[]; chunks: number } {
  const seen: string[] = [];
  const stage = {
    interest: interestIn(whole + lengthOnly),
    seen,
    chunks: 0,
    header(c: number, length: number) {
      if (!whole.includes(String.fromCharCode(c))) {
        seen.push(`${String.fromCharCode(c)}:${length}`);
        return PASS;
      }
      return SEE;
    },
    see(c: number, bytes: Buffer, start: number, end: number) {
      seen.push(String.fromCharCode(c) + bytes.toString('hex', start, end));
    },
    chunkEnd() {
      stage.chunks += 1;
    },
  };
  return stage;
}

/** A stage that holds every Query and judges it by its text. */
function gate(
  verdict: (sql: string) => FrameVerdict,
  settle?: { callback?: (v: Buffer | undefined) => void },
): FrameStage & { judged: string[] } {
  const judged: string[] = [];
  return {
    interest: interestIn('Q'),
    judged,
    header: () => HOLD,
    judge(_c, bytes, start, end) {
      const sql = bytes.toString('utf8', start + 5, end - 1);
      judged.push(sql);
      return verdict(sql);
    },
    whenSettled(callback) {
      if (settle !== undefined) settle.callback = callback;
    },
  };
}

const denyDeletes = (sql: string): FrameVerdict => (sql.startsWith('DELETE') ? replacement : undefined);

function run(stream: FrameStream, chunks: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks) {
    const r = stream.push(c);
    out.push(...(Buffer.isBuffer(r) ? [r] : r));
  }
  return Buffer.concat(out);
}

describe('FrameStream with stages that only look', () => {
  const input = Buffer.concat([keep, copyData, bind, sync, copyData, terminate]);

  it('passes every byte, tells each stage the frames it asked for whole or by length, however the input is cut', () => {
    for (const split of [[input], ...splitsOf(input), bytewise(input)]) {
      const first = tap('QB', 'd');
      const second = tap('X');
      const stream = new FrameStream([first, second]);
      assert.ok(run(stream, split).equals(input));
      assert.deepEqual(first.seen, ['Q' + keep.toString('hex'), 'd:204', 'B' + bind.toString('hex'), 'd:204']);
      assert.deepEqual(second.seen, ['X' + terminate.toString('hex')]);
      assert.equal(first.chunks, split.length, 'told of the end of each read');
      assert.equal(stream.inputAtBoundary && stream.outputAtBoundary, true);
    }
  });

  it('returns the chunk itself when nothing changed, and hands a frame lying whole in it over as its place there', () => {
    const places: [Buffer, number, number][] = [];
    const stage: FrameStage = {
      interest: interestIn('B'),
      header: () => SEE,
      see: (_c, bytes, start, end) => places.push([bytes, start, end]),
    };
    const stream = new FrameStream([stage]);
    assert.equal(stream.push(input), input);
    const at = keep.length + copyData.length;
    assert.deepEqual(places, [[input, at, at + bind.length]]);
    assert.equal(places[0]?.[0], input);
  });

  it('skips frames nobody asked for without looking at their bodies', () => {
    const big = Buffer.alloc(5);
    big.write('d', 0, 'latin1');
    big.writeInt32BE(1 << 30, 1); // a 1 GB CopyData header: passed by length, never allocated
    const stream = new FrameStream([tap('Q')]);
    stream.push(big);
    stream.push(Buffer.alloc(1000));
    assert.equal(stream.inputAtBoundary, false);
    assert.equal(stream.outputAtBoundary, false);
  });

  it('refuses a length below 4, whole or split, and any frame above the limit at its header, asked for or not', () => {
    for (const split of [[Buffer.from([0x51, 0, 0, 0, 3])], bytewise(Buffer.from([0x51, 0, 0, 0, 3]))]) {
      assert.throws(
        () => run(new FrameStream([tap('Q')]), split),
        (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
      );
    }
    const big = new Bytes().raw(Buffer.alloc(200)).frame('d');
    for (const stages of [[], [tap('d')]]) {
      for (const split of [[big], bytewise(big.subarray(0, 5)), ...splitsOf(big.subarray(0, 8))]) {
        assert.throws(
          () => run(new FrameStream(stages, { maxFrame: 100, limitName: 'listen.max-message-bytes' }), split),
          (e: unknown) => e instanceof ProtocolError && e.code === 'message-too-large' && /listen\.max-message-bytes/.test(e.message),
        );
      }
    }
    const small = new FrameStream([], { maxFrame: 100 });
    run(small, [new Bytes().raw(Buffer.alloc(90)).frame('d')]);
    assert.equal(small.inputAtBoundary, true);
  });

  it('stops at the body of a frame to assemble that the budget refuses, and goes on once it takes it, nothing lost', async () => {
    let blocked = 0;
    for (const split of [...splitsOf(input), bytewise(input)]) {
      let room = false;
      let held = 0;
      let released: (() => void) | undefined;
      const account: HoldAccount = {
        reserve: (n) => void (held += n),
        tryReserve: (n) => (room ? ((held += n), true) : false),
        release: (n) => void (held -= n),
        whenReleased: (callback) => void (released = callback),
      };
      const seer = tap('QBX');
      const stream = new FrameStream([seer], { account });
      const out: Buffer[] = [];
      const take = (r: Buffer | readonly Buffer[]): void => void out.push(...(Buffer.isBuffer(r) ? [r] : r));
      for (const chunk of split) {
        take(stream.push(chunk));
        while (stream.isStopped) {
          blocked += 1;
          assert.equal(stream.outputAtBoundary, false, 'the blocked frame’s header went out, its body did not');
          assert.equal(stream.inputAtBoundary, false);
          let ready = false;
          stream.whenReady(() => void (ready = true));
          room = true;
          released?.();
          await Promise.resolve();
          assert.equal(ready, true);
          room = false;
          take(stream.resume());
        }
      }
      assert.ok(Buffer.concat(out).equals(input), `split ${split.map((b) => b.length).join('+')}`);
      assert.deepEqual(seer.seen, ['Q' + keep.toString('hex'), 'B' + bind.toString('hex'), 'X' + terminate.toString('hex')]);
      assert.equal(held, 0, 'every byte held was given back');
    }
    assert.ok(blocked > 0, 'some cuts made a frame straddle reads, to be assembled');
  });

  it('gives back what a half-assembled frame held when the stream is abandoned', () => {
    let held = 0;
    const account: HoldAccount = {
      reserve: (n) => void (held += n),
      tryReserve: (n) => ((held += n), true),
      release: (n) => void (held -= n),
      whenReleased: () => undefined,
    };
    const stream = new FrameStream([tap('B')], { account });
    stream.push(bind.subarray(0, 8));
    assert.equal(held, bind.length);
    stream.abandon();
    assert.equal(held, 0);
  });
});

describe('FrameStream with a stage that holds and judges', () => {
  const input = Buffer.concat([keep, copyData, drop, sync, keep]);
  const expected = Buffer.concat([keep, copyData, replacement, sync, keep]);

  it('replaces exactly the frames judged so, judging each once and whole, however the input is cut', () => {
    for (const split of [[input], ...splitsOf(input), bytewise(input)]) {
      const judge = gate(denyDeletes);
      assert.ok(run(new FrameStream([judge]), split).equals(expected));
      assert.deepEqual(judge.judged, ['SELECT 1', 'DELETE FROM x', 'SELECT 1']);
    }
  });

  it('passes nothing of a held frame before it is whole', () => {
    const stream = new FrameStream([gate(() => undefined)]);
    assert.equal(run(stream, [drop.subarray(0, drop.length - 1)]).length, 0);
    assert.equal(stream.outputAtBoundary, true);
    assert.equal(stream.inputAtBoundary, false);
    assert.ok(run(stream, [drop.subarray(drop.length - 1)]).equals(drop));
  });

  it('tells later stages what goes on (a replacement as the replacement), earlier ones what came', () => {
    for (const split of [[input], ...splitsOf(input)]) {
      const before = tap('Q');
      const after = tap('Q', 'S');
      run(new FrameStream([before, gate(denyDeletes), after]), split);
      assert.deepEqual(before.seen, ['Q' + keep.toString('hex'), 'Q' + drop.toString('hex'), 'Q' + keep.toString('hex')]);
      assert.deepEqual(after.seen, ['Q' + keep.toString('hex'), 'Q' + replacement.toString('hex'), 'S:4', 'Q' + keep.toString('hex')]);
    }
  });

  it('stops at a frame judged later, keeps what arrives meanwhile, and goes on once settled — however the input is cut', async () => {
    const stream0 = Buffer.concat([keep, copyData, late, sync, drop, keep]);
    const wanted = Buffer.concat([keep, copyData, replacement, sync, replacement, keep]);
    for (const split of [[stream0], ...splitsOf(stream0), bytewise(stream0)]) {
      const settle: { callback?: (v: Buffer | undefined) => void } = {};
      const stream = new FrameStream([gate((sql) => (sql === 'DELETE FROM later' ? PENDING : denyDeletes(sql)), settle), tap('QS')]);
      const out: Buffer[] = [];
      const take = (r: Buffer | readonly Buffer[]): void => void out.push(...(Buffer.isBuffer(r) ? [r] : r));
      let stops = 0;
      for (const chunk of split) take(stream.push(chunk)); // read on while stopped, as a socket does before its pause takes hold
      while (stream.isStopped) {
        stops += 1;
        assert.equal(stream.outputAtBoundary, true);
        let ready = false;
        stream.whenReady(() => void (ready = true));
        assert.equal(ready, false);
        settle.callback?.(replacement);
        assert.equal(ready, true);
        take(stream.resume());
      }
      assert.equal(stops, 1);
      assert.ok(Buffer.concat(out).equals(wanted), `split ${split.map((b) => b.length).join('+')}`);
    }
  });

  it('drops a frame at its header, unread, with or without frames of its own in its place, which later stages see', () => {
    const row = new Bytes().int16(1).int32(2).raw('ab').frame('D');
    const done = new Bytes().cstring('SELECT 3').frame('C');
    const input2 = Buffer.concat([row, row, row, done]);
    for (const split of [[input2], ...splitsOf(input2), bytewise(input2)]) {
      let rows = 0;
      const cap: FrameStage = {
        interest: interestIn('D'),
        header: () => {
          rows += 1;
          return rows === 2 ? notice : rows > 2 ? DROP : PASS;
        },
      };
      const after = tap('DNC');
      assert.ok(run(new FrameStream([cap, after]), split).equals(Buffer.concat([row, notice, done])));
      assert.deepEqual(after.seen, ['D' + row.toString('hex'), 'N' + notice.toString('hex'), 'C' + done.toString('hex')]);
    }
  });

  it('goes on only as far as the end of the frame in flight when asked to (the session is ending)', () => {
    const row = new Bytes().int16(1).int32(6).raw('abcdef').frame('D');
    const after = Buffer.concat([new Bytes().cstring('SELECT 1').frame('C'), new Bytes().raw('I').frame('Z')]);
    for (let cut = 1; cut < row.length; cut++) {
      const stream = new FrameStream([gate(() => undefined)]);
      const first = run(stream, [row.subarray(0, cut)]);
      const r = stream.pushUntilBoundary(Buffer.concat([row.subarray(cut), after]));
      const rest = Buffer.concat(Buffer.isBuffer(r) ? [r] : r);
      if (cut < 5) assert.equal(first.length + rest.length, 0, `cut ${cut}: a header cut short went nowhere, so nothing more goes`);
      else assert.ok(Buffer.concat([first, rest]).equals(row), `cut ${cut}: the DataRow finished, nothing after it`);
      assert.equal(stream.outputAtBoundary, true);
    }
  });

  it('reads malformed input as a protocol error or a frame, never a hang or another exception', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)));
      const stream = new FrameStream([gate(denyDeletes), tap('QSX', 'd')], { maxFrame: 1 << 16 });
      try {
        for (const chunk of splitsOf(bytes).next().value ?? [bytes]) stream.push(chunk);
      } catch (e) {
        assert.ok(e instanceof ProtocolError, String(e));
      }
    }
  });
});
