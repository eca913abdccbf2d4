import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SegmentBuilder, HASH_BYTES } from '../../../src/audit/event-segment.js';
import { sessionHeader } from '../../support/session-header.js';
import { journalHeader, readJournal } from '../../../src/audit/journal-record.js';
import { encodeJournalRecord, JournalRecordEncoder } from '../../../src/audit/journal-record-encoder.js';
import type { JournalMac } from '../../../src/signing/journal-mac.js';
import { NodeKey } from '../../../src/signing/node-key.js';

const start = sessionHeader('s1');

function twoRecords(auth?: JournalMac, logId = 'log-1'): { file: Buffer; boundaries: number[] } {
  const builder = new SegmentBuilder();
  builder.append(10, 'client', 'Query', 0, 0, Buffer.from('SELECT 1'));
  assert.equal(builder.unjournaledCount, 1);
  const a = encodeJournalRecord(1, { starts: [start], ends: [], logins: [] }, [{ sessionId: 's1', pending: builder }], auth);
  builder.append(11, 'server', 'pg-frames', 1, 0, Buffer.from([0x43, 0, 0, 0, 4]));
  builder.append(12, 'client', 'Query', 0, 0, Buffer.from('SELECT 2'));
  assert.equal(builder.unjournaledCount, 2, 'only what came after the last cut');
  const b = encodeJournalRecord(
    2,
    {
      starts: [],
      ends: [{ sessionId: 's1', end: { reason: 'client-terminated', endedAtUs: 13, bytesFromClient: 1, bytesToClient: 2 } }],
      logins: [],
    },
    [{ sessionId: 's1', pending: builder }],
    auth,
  );
  assert.deepEqual([builder.unjournaledCount, builder.unjournaledBytes], [0, 0], 'nothing new since the last cut');
  const header = journalHeader(logId, auth !== undefined);
  return {
    file: Buffer.concat([header, a, b]),
    boundaries: [header.length, header.length + a.length, header.length + a.length + b.length],
  };
}

describe('the write-ahead journal format', () => {
  it('reads back each record as the batch it stands for', () => {
    const { file } = twoRecords();
    const read = readJournal(file);
    assert.equal(read.logId, 'log-1');
    assert.equal(read.tornBytes, 0);
    assert.deepEqual(
      read.batches.map((b) => b.journalSeq),
      [1, 2],
    );
    const [first, second] = read.batches;
    assert.equal(first?.starts[0]?.id, 's1');
    assert.equal(first?.events[0]?.count, 1);
    assert.equal(second?.events[0]?.count, 2);
    assert.equal(second?.ends[0]?.end.reason, 'client-terminated');
    // A segment of its own: the chain slot, then the records as the builder laid them out.
    const segment = Buffer.from(second?.events[0]?.buffer ?? new ArrayBuffer(0));
    assert.ok(segment.subarray(HASH_BYTES).includes(Buffer.from('SELECT 2')));
  });

  it('cut at every byte, keeps exactly the records wholly written and calls the rest a torn tail', () => {
    const { file, boundaries } = twoRecords();
    for (let cut = 0; cut <= file.length; cut++) {
      const read = readJournal(file.subarray(0, cut));
      const whole = boundaries.filter((b, i) => i > 0 && b <= cut).length;
      assert.equal(read.batches.length, whole, `cut at ${cut}`);
      if (cut >= (boundaries[0] ?? 0)) {
        assert.equal(read.tornBytes, cut - Math.max(...boundaries.filter((b) => b <= cut)), `torn bytes at ${cut}`);
      }
    }
  });

  it('stops at a record whose bytes were changed (its checksum fails), and reads a file without the header as no journal', () => {
    const { file, boundaries } = twoRecords();
    const damaged = Buffer.from(file);
    const inSecond = (boundaries[1] ?? 0) + 20;
    damaged[inSecond] = (damaged[inSecond] ?? 0) ^ 0xff;
    const read = readJournal(damaged);
    assert.equal(read.batches.length, 1);
    assert.equal(read.tornBytes, file.length - (boundaries[1] ?? 0));
    assert.equal(readJournal(Buffer.from('not a journal\n')).logId, undefined);
  });

  describe('authenticated with the node key (version 3)', () => {
    const key = NodeKey.generate().key;
    const auth = key.journalMac('log-1');

    it('reads back its records, and cut at every byte keeps exactly the whole ones as a torn tail, refusing nothing', () => {
      const { file, boundaries } = twoRecords(auth);
      assert.match(file.toString('latin1', 0, 40), /^idgate write-ahead journal 3 log-1\n/);
      assert.deepEqual(
        readJournal(file, key).batches.map((b) => b.journalSeq),
        [1, 2],
      );
      for (let cut = boundaries[0] ?? 0; cut <= file.length; cut++) {
        const read = readJournal(file.subarray(0, cut), key);
        assert.equal(read.batches.length, boundaries.filter((b, i) => i > 0 && b <= cut).length, `cut at ${cut}`);
        assert.equal(read.refused, undefined, `cut at ${cut}`);
      }
    });

    it('refuses a record the key did not write: forged, changed, spliced from another log, or out of order', () => {
      const { file, boundaries } = twoRecords(auth);
      const second = boundaries[1] ?? 0;
      // A record appended by someone without the key: framed right, MAC made with another key.
      const forged = twoRecords(NodeKey.generate().key.journalMac('log-1'));
      const appended = Buffer.concat([file, forged.file.subarray(forged.boundaries[1] ?? 0)]);
      const read = readJournal(appended, key);
      assert.deepEqual(
        read.batches.map((b) => b.journalSeq),
        [1, 2],
      );
      assert.match(read.refused ?? '', new RegExp(`record at byte ${file.length} is not authenticated`));
      const changed = Buffer.from(file);
      changed[second + 30] = (changed[second + 30] ?? 0) ^ 1;
      assert.match(readJournal(changed, key).refused ?? '', /not authenticated/);
      // The same node's genuine record of another journal (another log id) does not fit this one.
      const other = twoRecords(key.journalMac('log-2'));
      const spliced = Buffer.concat([file.subarray(0, second), other.file.subarray(other.boundaries[1] ?? 0)]);
      assert.match(readJournal(spliced, key).refused ?? '', /not authenticated/);
      // Genuine records swapped: seq 2 before seq 1.
      const swapped = Buffer.concat([
        file.subarray(0, boundaries[0]),
        file.subarray(second),
        file.subarray(boundaries[0], second),
        file.subarray(second),
      ]);
      assert.match(readJournal(swapped, key).refused ?? '', /out of order \(seq 1 after 2\)/);
    });

    it('reads an unauthenticated journal as nothing when the node has a key, and an authenticated one as nothing without it', () => {
      const plain = twoRecords().file;
      const withKey = readJournal(plain, key);
      assert.equal(withKey.batches.length, 0);
      assert.match(withKey.refused ?? '', /not authenticated \(written without a node key\)/);
      const noKey = readJournal(twoRecords(auth).file);
      assert.equal(noKey.batches.length, 0);
      assert.match(noKey.refused ?? '', /this process has none/);
    });

    it('still reads a journal an earlier build left (version 2: HMAC-SHA256), and refuses its records under another key', () => {
      const { file, boundaries } = twoRecords(auth);
      const records = [1, 2].map((i) => Buffer.from(file.subarray(boundaries[i - 1], boundaries[i])));
      for (const record of records) auth.tagV2(record.subarray(20)).copy(record, 4);
      const v2 = Buffer.concat([Buffer.from('idgate write-ahead journal 2 log-1\n', 'latin1'), ...records]);
      const read = readJournal(v2, key);
      assert.deepEqual(
        read.batches.map((b) => b.journalSeq),
        [1, 2],
      );
      assert.equal(read.refused, undefined);
      assert.match(readJournal(v2, NodeKey.generate().key).refused ?? '', /record at byte 35 is not authenticated/);
    });
  });

  it('encodes into one buffer it keeps, and lets a large one go at the next small record', () => {
    const encoder = new JournalRecordEncoder(undefined);
    const events = new SegmentBuilder();
    const none = { starts: [], ends: [], logins: [] };
    events.append(1, 'client', 'Query', 0, 0, Buffer.from('SELECT 1'));
    const small = Buffer.from(encoder.encode(1, none, [{ sessionId: 's1', pending: events }]));
    assert.equal(encoder.capacity, 4096);
    events.append(2, 'client', 'CopyData', 0, 0, Buffer.alloc(3 << 20, 0x61));
    const large = encoder.encode(2, none, [{ sessionId: 's1', pending: events }]);
    assert.ok(encoder.capacity >= large.length && large.length > 3 << 20);
    events.append(3, 'client', 'Query', 0, 0, Buffer.from('SELECT 3'));
    encoder.encode(3, none, [{ sessionId: 's1', pending: events }]);
    assert.equal(encoder.capacity, 4096, 'back to its first size');
    const read = readJournal(Buffer.concat([journalHeader('log-1'), small]));
    assert.deepEqual(
      read.batches.map((b) => b.journalSeq),
      [1],
    );
  });
});
