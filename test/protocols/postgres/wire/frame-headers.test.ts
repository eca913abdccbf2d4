import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMessageLength, FrameHeaders } from '../../../../protocols/postgres/wire/frame-headers.js';
import { ProtocolError } from '../../../../protocols/postgres/wire/protocol-error.js';

/** Hand-written frames (type byte, big-endian int32 length counting itself, body): no codec under test builds them. */
// prettier-ignore
const STREAM = Buffer.from([
  0x51, 0x00, 0x00, 0x00, 0x0d, 0x53, 0x45, 0x4c, 0x45, 0x43, 0x54, 0x20, 0x31, 0x00, // Query "SELECT 1"
  0x53, 0x00, 0x00, 0x00, 0x04, // Sync, no body
  0x48, 0x00, 0x00, 0x00, 0x04, // Flush
  0x58, 0x00, 0x00, 0x00, 0x04, // Terminate
]);
const EXPECTED = [
  [0x51, 13],
  [0x53, 4],
  [0x48, 4],
  [0x58, 4],
];

/** A minimal reader over FrameHeaders: records each header and skips its body. */
function readHeaders(chunks: readonly Buffer[], headers = new FrameHeaders()): number[][] {
  const seen: number[][] = [];
  let skip = 0;
  for (const chunk of chunks) {
    let p = 0;
    while (p < chunk.length) {
      if (skip > 0) {
        const step = Math.min(skip, chunk.length - p);
        skip -= step;
        p += step;
        continue;
      }
      if (headers.wholeAt(chunk, p)) {
        headers.readWhole(chunk, p);
        p += 5;
      } else {
        p = headers.readSplit(chunk, p);
        if (!headers.atBoundary) continue;
        assert.equal(headers.lastHeader[0], headers.code, 'the completed header bytes are kept');
      }
      seen.push([headers.code, headers.length]);
      skip = headers.length - 4;
    }
  }
  return seen;
}

describe('FrameHeaders, the framer every reader uses', () => {
  it('reads every header of a stream given whole', () => {
    assert.deepEqual(readHeaders([STREAM]), EXPECTED);
  });

  it('reads the same headers with the stream split in two at every byte', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      assert.deepEqual(readHeaders([STREAM.subarray(0, cut), STREAM.subarray(cut)]), EXPECTED, `cut at ${cut}`);
    }
  });

  it('reads the same headers fed one byte at a time', () => {
    const bytes = [...STREAM].map((b) => Buffer.from([b]));
    assert.deepEqual(readHeaders(bytes), EXPECTED);
  });

  it('is between messages only when no header is half read', () => {
    const headers = new FrameHeaders();
    assert.equal(headers.atBoundary, true);
    assert.equal(headers.readSplit(Buffer.from([0x51, 0x00]), 0), 2);
    assert.equal(headers.atBoundary, false);
    assert.equal(headers.wholeAt(Buffer.from([0, 0, 0, 4, 0x53]), 0), false, 'a half-read header is never read as whole');
  });

  it('refuses a length below 4, whole or split', () => {
    const short = Buffer.from([0x51, 0x00, 0x00, 0x00, 0x03]);
    assert.throws(
      () => readHeaders([short]),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
    assert.throws(
      () => readHeaders([short.subarray(0, 2), short.subarray(2)]),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
    const negative = Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]);
    assert.throws(
      () => readHeaders([negative]),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
  });

  it('refuses a message over the limit at its header, naming the limit', () => {
    const big = Buffer.from([0x51, 0x00, 0x01, 0x00, 0x00]); // 65,536
    assert.throws(
      () => readHeaders([big], new FrameHeaders(65_535, 'listen.max-message-bytes')),
      (e: unknown) =>
        e instanceof ProtocolError &&
        e.code === 'message-too-large' &&
        /65537 bytes .* limit of 65536 \(listen\.max-message-bytes\)/.test(e.message),
    );
    assert.deepEqual(readHeaders([big], new FrameHeaders(65_536)), [[0x51, 65_536]]);
  });

  it('checks an untyped length against its own minimum and maximum', () => {
    assert.equal(checkMessageLength(8, 10_000, 8), 8);
    assert.throws(
      () => checkMessageLength(7, 10_000, 8),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-short',
    );
    assert.throws(
      () => checkMessageLength(10_001, 10_000, 8),
      (e: unknown) => e instanceof ProtocolError && e.code === 'frame-too-long',
    );
  });
});
