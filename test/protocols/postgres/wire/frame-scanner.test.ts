import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameScanner, interestIn, type HoldAccount } from '../../../../protocols/postgres/wire/frame-scanner.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';
import { Bytes, bytewise, splitsOf } from '../../../support/byte-builder.js';

const query = new Bytes().cstring('SELECT 1').frame('Q');
const parse = new Bytes().cstring('s1').cstring('SELECT $1').int16(1).int32(23).frame('P');
const sync = new Bytes().frame('S');
const copyData = new Bytes().raw(Buffer.alloc(300, 7)).frame('d');
const terminate = new Bytes().frame('X');
const stream = Buffer.concat([query, copyData, parse, sync, copyData, terminate]);

function scanAll(chunks: readonly Buffer[], codes: string[]): { frames: Buffer[]; boundary: boolean } {
  const frames: Buffer[] = [];
  const scanner = new FrameScanner(interestIn(codes.map((c) => c.charCodeAt(0))), (_code, _length, bytes, start, end) =>
    frames.push(Buffer.from(bytes?.subarray(start, end) ?? [])),
  );
  for (const c of chunks) scanner.scan(c);
  return { frames, boundary: scanner.atBoundary };
}

describe('FrameScanner', () => {
  it('hands over exactly the frames asked for, whole', () => {
    const { frames, boundary } = scanAll([stream], ['Q', 'P', 'S', 'X']);
    assert.deepEqual(frames, [query, parse, sync, terminate]);
    assert.equal(boundary, true);
  });

  it('gives the same frames however the stream is cut', () => {
    const expected = [query, parse, sync, terminate];
    for (const split of splitsOf(stream)) assert.deepEqual(scanAll(split, ['Q', 'P', 'S', 'X']).frames, expected);
    assert.deepEqual(scanAll(bytewise(stream), ['Q', 'P', 'S', 'X']).frames, expected);
  });

  it('hands a frame that lies whole in the chunk over as its place in that chunk, not a copy', () => {
    const seen: [Buffer | undefined, number, number][] = [];
    const scanner = new FrameScanner(interestIn([0x50]), (_code, _length, bytes, start, end) => seen.push([bytes, start, end]));
    scanner.scan(stream);
    assert.deepEqual(seen, [[stream, query.length + copyData.length, query.length + copyData.length + parse.length]]);
    assert.equal(seen[0]?.[0], stream);
  });

  it('reports boundaries only between frames', () => {
    for (const [a] of splitsOf(stream)) {
      const atEnd = [query.length, query.length + copyData.length].includes(a?.length ?? -1);
      const scanner = new FrameScanner(interestIn([]), () => undefined);
      scanner.scan(a ?? Buffer.alloc(0));
      if (atEnd) assert.equal(scanner.atBoundary, true);
      if ((a?.length ?? 0) < query.length) assert.equal(scanner.atBoundary, false);
    }
  });

  it('stops at the end of the frame in progress (scanToBoundary)', () => {
    const scanner = new FrameScanner(interestIn([]), () => undefined);
    scanner.scan(stream.subarray(0, 3)); // inside Query's header
    const consumed = scanner.scanToBoundary(stream.subarray(3));
    assert.equal(consumed, query.length - 3);
    assert.equal(scanner.atBoundary, true);
  });

  it('refuses a length below 4, whether the header is whole or split', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 3]);
    assert.throws(
      () => scanAll([bad], []),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
    assert.throws(
      () => scanAll(bytewise(bad), []),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
    assert.throws(
      () => scanAll([Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff])], []),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
  });

  it('refuses a frame of interest above its limit before buffering it', () => {
    const scanner = new FrameScanner(interestIn([0x51]), () => undefined, 100);
    const hugeQueryHeader = Buffer.from([0x51, 0x7f, 0, 0, 0]);
    assert.throws(
      () => scanner.scan(hugeQueryHeader),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-long',
    );
  });

  it('refuses any frame above the message limit at its header, whether asked for or not, however the header is cut', () => {
    const big = new Bytes().raw(Buffer.alloc(200)).frame('d');
    for (const interest of [interestIn([]), interestIn([0x64])]) {
      for (const split of [[big], bytewise(big.subarray(0, 5)), ...splitsOf(big.subarray(0, 8))]) {
        const scanner = new FrameScanner(interest, () => undefined, 1 << 30, 100);
        assert.throws(
          () => split.forEach((c) => scanner.scan(c)),
          (e: unknown) => e instanceof ProtocolError && e.code === 'message-too-large',
        );
      }
    }
    const small = new FrameScanner(interestIn([]), () => undefined, 1 << 30, 100);
    small.scan(new Bytes().raw(Buffer.alloc(90)).frame('d'));
    assert.equal(small.atBoundary, true);
  });

  it('reports only the length of LENGTH_ONLY frames, at their header', () => {
    const seen: [number, boolean, number][] = [];
    const scanner = new FrameScanner(interestIn([0x51], [0x64]), (code, length, bytes) => seen.push([code, bytes !== undefined, length]));
    for (const b of bytewise(stream)) scanner.scan(b);
    assert.deepEqual(seen, [
      [0x51, true, query.length - 1],
      [0x64, false, copyData.length - 1],
      [0x64, false, copyData.length - 1],
    ]);
  });

  it('skips frames nobody asked for without looking at their bodies', () => {
    const big = Buffer.alloc(5);
    big.write('d', 0, 'latin1');
    big.writeInt32BE(1 << 30, 1); // a 1 GB CopyData header: skipped, never allocated
    const scanner = new FrameScanner(interestIn([0x51]), () => assert.fail('not asked for'));
    scanner.scan(big);
    scanner.scan(Buffer.alloc(1000));
    assert.equal(scanner.atBoundary, false);
  });

  it('stops at the body of a frame to assemble that the account refuses, and goes on once it takes it — however the stream is cut', () => {
    const expected = [query, parse, sync, terminate];
    for (const split of [...splitsOf(stream), bytewise(stream)]) {
      let room = false;
      let held = 0;
      const account: HoldAccount = {
        reserve: (n) => void (held += n),
        tryReserve: (n) => (room ? ((held += n), true) : false),
        release: (n) => void (held -= n),
        whenReleased: () => undefined,
      };
      const frames: Buffer[] = [];
      const scanner = new FrameScanner(
        interestIn(['Q', 'P', 'S', 'X'].map((c) => c.charCodeAt(0))),
        (_c, _l, bytes, start, end) => frames.push(Buffer.from(bytes?.subarray(start, end) ?? [])),
        1 << 20,
        1 << 20,
        account,
      );
      const pending = [...split];
      let blockedAt = -1;
      while (pending.length > 0) {
        const chunk = pending.shift() ?? Buffer.alloc(0);
        const consumed = scanner.scanUntilBlocked(chunk);
        if (!scanner.isBlocked) continue;
        blockedAt = frames.length;
        assert.equal(scanner.retryBlocked(), false, 'still refused');
        room = true;
        assert.equal(scanner.retryBlocked(), true);
        pending.unshift(chunk.subarray(consumed));
      }
      assert.deepEqual(frames, expected);
      assert.equal(held, 0, 'every byte held was given back');
      // Only frames that straddle chunks are assembled, so only some cuts ever block.
      assert.ok(blockedAt <= expected.length);
    }
  });
});
