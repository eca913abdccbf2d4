import { crc32 } from 'node:zlib';
import type { JournalMac } from '../signing/journal-mac.js';
import type { UnjournaledEvents } from './event-segment.js';
import { checkBytes, LENGTH_BYTES, type JournalMeta } from './journal-record.js';

/** One session's part of a record (a session recorder is one). */
export interface JournalSlice {
  readonly sessionId: string;
  readonly pending: UnjournaledEvents;
}

const INITIAL_BYTES = 4096;
/** A buffer grown past this for a large record is let go at the next small one: one big turn does not hold memory for good. */
const MAX_KEPT_BYTES = 1 << 20;

/**
 * Encodes journal records (the format is in journal-record.ts) into one buffer it keeps and grows:
 * a record is cut on the relay thread at every event-loop turn that recorded something, so it
 * allocates nothing per record, and copies each session's new events once, straight from the
 * session's segment. What `encode` returns is valid until the next call.
 */
export class JournalRecordEncoder {
  private buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private readonly head: number;
  /** Room before the record for the MAC's key prefix, so the payload is hashed where it lies. */
  private readonly room: number;

  constructor(private readonly auth: JournalMac | undefined) {
    this.head = LENGTH_BYTES + checkBytes(auth);
    this.room = auth === undefined ? 0 : Math.max(0, auth.prefixLength - this.head);
  }

  /** Record `seq`: `meta` and every slice's unjournaled events (which count as journaled after). */
  encode(seq: number, meta: JournalMeta, slices: readonly JournalSlice[]): Buffer {
    const json = meta.starts.length + meta.ends.length + meta.logins.length === 0 ? '' : JSON.stringify(meta);
    const jsonLength = Buffer.byteLength(json);
    const { head, room } = this;
    let size = head + 12 + jsonLength;
    for (const s of slices) size += 1 + s.sessionId.length + 8 + s.pending.unjournaledBytes;
    const out = this.reserve(room + size);
    let p = room + head;
    out.writeDoubleBE(seq, p);
    out.writeUInt32BE(jsonLength, p + 8);
    p += 12;
    if (jsonLength > 0) p += out.write(json, p, 'utf8');
    for (const s of slices) {
      const events = s.pending;
      out[p] = s.sessionId.length;
      p += 1 + out.write(s.sessionId, p + 1, 'latin1');
      const bytes = events.unjournaledBytes;
      out.writeUInt32BE(events.unjournaledCount, p);
      out.writeUInt32BE(bytes, p + 4);
      events.journalInto(out, p + 8);
      p += 8 + bytes;
    }
    const end = room + size;
    if (this.auth === undefined) out.writeUInt32BE(crc32(out.subarray(room + head, end)), room + LENGTH_BYTES);
    else this.auth.tagInto(out, room + head, end, room + LENGTH_BYTES);
    out.writeUInt32BE(size - head, room);
    return out.subarray(room, end);
  }

  /** Bytes the encoder keeps between records. */
  get capacity(): number {
    return this.buffer.length;
  }

  private reserve(bytes: number): Buffer {
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafeSlow(Math.max(bytes, this.buffer.length * 2));
    else if (this.buffer.length > MAX_KEPT_BYTES && bytes <= INITIAL_BYTES) this.buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
    return this.buffer;
  }
}

/** One record in a buffer of its own (tests, and tools that write journals). */
export function encodeJournalRecord(seq: number, meta: JournalMeta, slices: readonly JournalSlice[], auth?: JournalMac): Buffer {
  return Buffer.from(new JournalRecordEncoder(auth).encode(seq, meta, slices));
}
