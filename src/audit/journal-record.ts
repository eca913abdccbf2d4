import { crc32 } from 'node:zlib';
import type { LoginAttempt, PendingSegment, SessionEnd, SessionHeader, WriterBatch } from './audit-event.js';
import { HASH_BYTES } from './event-segment.js';

/**
 * The write-ahead journal's file format. The journal holds what the gateway recorded and has not
 * yet been written to the audit database, so a client's frames are durable before they are
 * forwarded, at the price of one append per group commit rather than a database transaction.
 *
 *   journal := header record*
 *   header  := "idgate write-ahead journal 1 " log-id "\n"   (the database it belongs to)
 *   record  := length(u32) crc32(u32) payload                 (crc32 of the payload)
 *   payload := seq(f64) meta-length(u32) meta(JSON) slice*
 *   meta    := {"starts": [...], "ends": [...], "logins": [...]}
 *   slice   := id-length(u8) session-id count(u32) byte-length(u32) records
 *
 * `records` are a session's event records in the segment format (event-segment.ts), hash slots
 * not yet filled: the writer chains them when it applies the record. A record whose length runs
 * past the end of the file or whose checksum fails is a torn tail (the process died, or the
 * machine lost power, during the append): it and anything after it never counted as durable.
 */
const MAGIC = 'idgate write-ahead journal 1 ';
const RECORD_HEAD = 8;

export interface JournalMeta {
  readonly starts: readonly SessionHeader[];
  readonly ends: readonly { readonly sessionId: string; readonly end: SessionEnd }[];
  readonly logins: readonly LoginAttempt[];
}

export interface JournalSlice {
  readonly sessionId: string;
  readonly count: number;
  readonly bytes: Uint8Array;
}

export function journalHeader(logId: string): Buffer {
  return Buffer.from(`${MAGIC}${logId}\n`, 'latin1');
}

/** One record: what was recorded between two cuts. */
export function encodeJournalRecord(seq: number, meta: JournalMeta, slices: readonly JournalSlice[]): Buffer {
  const empty = meta.starts.length + meta.ends.length + meta.logins.length === 0;
  const json = Buffer.from(empty ? '' : JSON.stringify(meta));
  let size = RECORD_HEAD + 8 + 4 + json.length;
  for (const s of slices) size += 1 + s.sessionId.length + 8 + s.bytes.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size - RECORD_HEAD, 0);
  let p = RECORD_HEAD;
  out.writeDoubleBE(seq, p);
  out.writeUInt32BE(json.length, p + 8);
  p += 12;
  p += json.copy(out, p);
  for (const s of slices) {
    out[p] = s.sessionId.length;
    p += 1 + out.write(s.sessionId, p + 1, 'latin1');
    out.writeUInt32BE(s.count, p);
    out.writeUInt32BE(s.bytes.length, p + 4);
    out.set(s.bytes, p + 8);
    p += 8 + s.bytes.length;
  }
  out.writeUInt32BE(crc32(out.subarray(RECORD_HEAD)), 4);
  return out;
}

export interface ReadJournal {
  /** The log id the header names, or undefined when the file is not a journal (or empty). */
  readonly logId: string | undefined;
  readonly headerLength: number;
  /** Each intact record as the writer batch it stands for (journalSeq set). */
  readonly batches: WriterBatch[];
  /** Bytes after the last intact record: a torn tail. */
  readonly tornBytes: number;
}

/** Reads a journal file's bytes: the header, the intact records in order, and the length of a torn tail. */
export function readJournal(file: Buffer): ReadJournal {
  const newline = file.indexOf(0x0a);
  const header = newline < 0 ? '' : file.toString('latin1', 0, newline);
  if (!header.startsWith(MAGIC)) return { logId: undefined, headerLength: 0, batches: [], tornBytes: file.length };
  const headerLength = newline + 1;
  const batches: WriterBatch[] = [];
  let p = headerLength;
  while (p + RECORD_HEAD <= file.length) {
    const length = file.readUInt32BE(p);
    const end = p + RECORD_HEAD + length;
    if (length < 12 || end > file.length) break;
    const payload = file.subarray(p + RECORD_HEAD, end);
    if (crc32(payload) !== file.readUInt32BE(p + 4)) break;
    const batch = decodePayload(payload);
    if (batch === undefined) break;
    batches.push(batch);
    p = end;
  }
  return { logId: header.slice(MAGIC.length), headerLength, batches, tornBytes: file.length - p };
}

function decodePayload(payload: Buffer): WriterBatch | undefined {
  try {
    const seq = payload.readDoubleBE(0);
    const jsonLength = payload.readUInt32BE(8);
    let p = 12 + jsonLength;
    const meta: JournalMeta =
      jsonLength === 0 ? { starts: [], ends: [], logins: [] } : (JSON.parse(payload.toString('utf8', 12, p)) as JournalMeta);
    const events: PendingSegment[] = [];
    while (p < payload.length) {
      const idLength = payload[p] ?? 0;
      const sessionId = payload.toString('latin1', p + 1, p + 1 + idLength);
      p += 1 + idLength;
      const count = payload.readUInt32BE(p);
      const byteLength = payload.readUInt32BE(p + 4);
      p += 8;
      if (p + byteLength > payload.length) return undefined;
      // A segment of its own: the leading chain slot, then the records.
      const segment = new Uint8Array(HASH_BYTES + byteLength);
      segment.set(payload.subarray(p, p + byteLength), HASH_BYTES);
      events.push({ sessionId, buffer: segment.buffer, length: segment.length, count });
      p += byteLength;
    }
    return { starts: meta.starts, ends: meta.ends, logins: meta.logins, events, journalSeq: seq };
  } catch {
    return undefined;
  }
}

/** Where the write-ahead journal of the audit database at `databasePath` lives: beside it. */
export function journalPath(databasePath: string): string {
  return `${databasePath}.write-ahead`;
}
