import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { HASH_BYTES, readSegment, recordHash, SegmentBuilder, sealSegment } from '../../../src/audit/event-segment.js';

/** A record's bytes as the format defines them, built independently of the builder. */
function expectedRecord(atUs: number, direction: number, statements: number, errors: number, kind: string, data: Buffer): Buffer {
  const body = Buffer.alloc(18 + kind.length + data.length);
  body.writeDoubleBE(atUs, 0);
  body.writeUInt8(direction, 8);
  body.writeUInt32BE(statements, 9);
  body.writeUInt32BE(errors, 13);
  body.writeUInt8(kind.length, 17);
  body.write(kind, 18, 'latin1');
  data.copy(body, 18 + kind.length);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('event segments', () => {
  const query = Buffer.from('Q\0\0\0\x0dSELECT 1;\0', 'latin1');
  const complete = Buffer.concat([Buffer.from('C\0\0\0\x0dSELECT 1\0', 'latin1'), Buffer.from('Z\0\0\0\x05I', 'latin1')]);

  it('lays records out as the format says and chains them with one SHA-256 over the previous hash and the record', () => {
    const builder = new SegmentBuilder();
    assert.equal(builder.append(1_700_000_000_000_001, 'client', 'pg-frames', 0, 0, query), 4 + 18 + 9 + query.length + HASH_BYTES);
    builder.append(1_700_000_000_000_002, 'server', 'pg-frames', 1, 0, complete);
    const taken = builder.take();
    assert.equal(taken.count, 2);
    const segment = Buffer.from(taken.buffer, 0, taken.length);
    const previous = Buffer.alloc(HASH_BYTES, 0xab);
    const totals = sealSegment(segment, previous);

    const first = expectedRecord(1_700_000_000_000_001, 0, 0, 0, 'pg-frames', query);
    const second = expectedRecord(1_700_000_000_000_002, 1, 1, 0, 'pg-frames', complete);
    const firstHash = sha256(previous, first);
    const secondHash = sha256(firstHash, second);
    assert.deepEqual(segment, Buffer.concat([previous, first, firstHash, second, secondHash]));
    assert.deepEqual(totals, { tip: secondHash, statements: 1, errors: 0 });
  });

  it('reads back what it wrote, and a verifier recomputes each hash from its predecessor', () => {
    const builder = new SegmentBuilder(64); // smaller than one record: it must grow
    builder.append(5, 'client', 'pg-frames', 0, 0, query);
    builder.append(6, 'server', 'pg-frames', 2, 1, complete);
    builder.append(7, 'gateway', 'Denied', 0, 0, Buffer.from('{"sql":"DROP TABLE t"}'));
    const taken = builder.take();
    const segment = Buffer.from(taken.buffer, 0, taken.length);
    const head = Buffer.alloc(HASH_BYTES, 1);
    sealSegment(segment, head);
    const { chain, records } = readSegment(segment);
    assert.deepEqual(chain, head);
    assert.deepEqual(
      records.map((r) => [r.atUs, r.direction, r.kind, r.statements, r.errors]),
      [
        [5, 'client', 'pg-frames', 0, 0],
        [6, 'server', 'pg-frames', 2, 1],
        [7, 'gateway', 'Denied', 0, 0],
      ],
    );
    assert.deepEqual(records[0]?.data, query);
    assert.equal(records[2]?.data.toString(), '{"sql":"DROP TABLE t"}');
    let previous: Buffer = head;
    for (const r of records) {
      assert.deepEqual(recordHash(previous, r.hashed), r.hash);
      previous = r.hash;
    }
  });

  it('starts afresh after take (an empty builder seals to nothing) and reads a truncated tail as missing records', () => {
    const builder = new SegmentBuilder();
    builder.append(1, 'client', 'pg-frames', 0, 0, query);
    builder.append(2, 'client', 'pg-frames', 0, 0, query);
    const taken = builder.take();
    const empty = builder.take();
    assert.equal(empty.count, 0);
    assert.equal(empty.length, HASH_BYTES);
    const segment = Buffer.from(taken.buffer, 0, taken.length);
    sealSegment(segment, Buffer.alloc(HASH_BYTES));
    for (let cut = HASH_BYTES; cut < segment.length; cut++) {
      const records = readSegment(segment.subarray(0, cut)).records;
      assert.ok(records.length < 2, `cut at ${cut}`);
    }
    assert.equal(readSegment(segment).records.length, 2);
  });
});
