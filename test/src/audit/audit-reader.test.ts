import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventLine, segmentEvents } from '../../../src/audit/audit-reader.js';
import { HASH_BYTES, SegmentBuilder, sealSegment } from '../../../src/audit/event-segment.js';

describe('reading stored events', () => {
  // A Query and a CancelRequest event's JSON, as a protocol and the gateway store them.
  const frames = Buffer.from('Q\0\0\0\x0dSELECT 1;\0', 'latin1');
  const json = '{"processId":7,"matched":true,"note":"naïve"}';

  it('gives the bytes of a binary segment as they were stored, each body a view of the segment', () => {
    const builder = new SegmentBuilder();
    builder.append(11, 'client', 'pg-frames', 1, 0, frames);
    builder.append(12, 'client', 'CancelRequest', 0, 0, Buffer.from(json, 'utf8'));
    const taken = builder.take();
    const segment = Buffer.from(taken.buffer, 0, taken.length);
    sealSegment(segment, Buffer.alloc(HASH_BYTES));

    const [raw, own] = [...segmentEvents({ session_id: 's', first_seq: 5, last_seq: 6, lines: segment })];
    assert.deepEqual(raw?.body, frames);
    assert.equal(raw?.body.buffer, segment.buffer, 'not a copy');
    assert.equal(raw?.kind, 'pg-frames');
    assert.equal(raw?.seq, 5);
    assert.equal(raw?.outcome, '1:0');
    assert.equal(own?.body.toString('utf8'), json);
    assert.equal(own?.seq, 6);
  });

  it('gives the same bytes for the text lines of databases written before schema 11 (raw frames kept as base64 there)', () => {
    const raw = parseEventLine('s', `1\thash1\t11\tclient\tpg-frames\t1:0\t${frames.toString('base64')}`);
    assert.deepEqual(raw.body, frames);
    assert.equal(raw.outcome, '1:0');
    const own = parseEventLine('s', `2\thash2\t12\tclient\tCancelRequest\t\t${json}`);
    assert.equal(own.body.toString('utf8'), json);
    assert.equal(own.outcome, null);
    assert.equal(own.hash, 'hash2');
  });
});
