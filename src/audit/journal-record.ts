import { timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { LoginAttempt, PendingSegment, SessionEnd, SessionHeader, WriterBatch } from './audit-event.js';
import { HASH_BYTES } from './event-segment.js';
import { MAC_BYTES, type JournalMac } from '../signing/journal-mac.js';
import type { NodeKey } from '../signing/node-key.js';

/**
 * The write-ahead journal's file format. The journal holds what the gateway recorded and has not
 * yet been written to the audit database, so a client's frames are durable before they are
 * forwarded, at the price of one append per group commit rather than a database transaction.
 *
 *   journal := header record*
 *   header  := "idgate write-ahead journal " version " " log-id "\n"   (the database it belongs to)
 *   record  := length(u32) check payload
 *   check   := crc32(u32) of the payload                              (version 1: a node without a key)
 *            | mac(16 bytes): SHA-512/256(journal key ‖ log-id "\n" payload)  (version 3: journal-mac.ts)
 *            | mac(16 bytes): HMAC-SHA256(journal key, log-id "\n" payload)   (version 2, only read)
 *   payload := seq(f64) meta-length(u32) meta(JSON) slice*
 *   meta    := {"starts": [...], "ends": [...], "logins": [...]}
 *   slice   := id-length(u8) session-id count(u32) byte-length(u32) records
 *
 * Records are encoded by journal-record-encoder.ts. `records` are a session's event records in the segment format (event-segment.ts), hash slots
 * not yet filled: the writer chains them when it applies the record. A record whose length runs
 * past the end of the file or whose checksum fails is a torn tail (the process died, or the
 * machine lost power, during the append): it and anything after it never counted as durable. In
 * versions 2 and 3 a whole record whose MAC fails, or whose seq does not follow the one before, was not
 * written by this node: it and everything after it are refused, and recovery says so.
 */
const MAGIC = 'idgate write-ahead journal ';
export const LENGTH_BYTES = 4;
const CRC_BYTES = 4;

/** Bytes of a record's check: a CRC, or the node key's MAC. */
export function checkBytes(auth: JournalMac | undefined): number {
  return auth === undefined ? CRC_BYTES : MAC_BYTES;
}

type Version = '1' | '2' | '3';
const AUTHENTICATED: Version = '3';

export interface JournalMeta {
  readonly starts: readonly SessionHeader[];
  readonly ends: readonly { readonly sessionId: string; readonly end: SessionEnd }[];
  readonly logins: readonly LoginAttempt[];
}

/** The header: version 3 when the records carry the node key's MAC. */
export function journalHeader(logId: string, authenticated = false): Buffer {
  return Buffer.from(`${MAGIC}${authenticated ? AUTHENTICATED : '1'} ${logId}\n`, 'latin1');
}

export interface ReadJournal {
  /** The log id the header names, or undefined when the file is not a journal (or empty). */
  readonly logId: string | undefined;
  readonly headerLength: number;
  /** Each intact (and, in versions 2 and 3, authentic) record as the writer batch it stands for (journalSeq set). */
  readonly batches: WriterBatch[];
  /** Bytes after the last intact record: a torn tail. */
  readonly tornBytes: number;
  /** Why the bytes from `headerLength + …` on were refused as not written by this node (then `tornBytes` counts them). */
  readonly refused?: string;
}

/**
 * Reads a journal file's bytes: the header, the intact records in order, and the length of a torn
 * tail. With `key` (this node has one) only an authenticated journal (version 3, or 2 as an
 * earlier build wrote it) is read, and only records whose MAC holds under it; an authenticated
 * journal is never read without the key.
 */
export function readJournal(file: Buffer, key?: NodeKey): ReadJournal {
  const newline = file.indexOf(0x0a);
  const header = newline < 0 ? '' : file.toString('latin1', 0, newline);
  const parsed = parseHeader(header);
  if (parsed === undefined) return { logId: undefined, headerLength: 0, batches: [], tornBytes: file.length };
  const { version, logId } = parsed;
  const headerLength = newline + 1;
  const none = (refused: string): ReadJournal => ({ logId, headerLength, batches: [], tornBytes: file.length - headerLength, refused });
  if (version === '1' && key !== undefined) {
    return none('the journal is not authenticated (written without a node key), and this node has one');
  }
  if (version !== '1' && key === undefined) return none('the journal is authenticated with a node key, and this process has none');
  const auth = key?.journalMac(logId);
  const head = LENGTH_BYTES + checkBytes(auth);
  const batches: WriterBatch[] = [];
  let p = headerLength;
  let refused: string | undefined;
  while (p + head <= file.length) {
    const length = file.readUInt32BE(p);
    const end = p + head + length;
    if (length < 12 || end > file.length) break;
    const payload = file.subarray(p + head, end);
    if (auth === undefined) {
      if (crc32(payload) !== file.readUInt32BE(p + LENGTH_BYTES)) break;
    } else if (!timingSafeEqual(version === '2' ? auth.tagV2(payload) : auth.tag(payload), file.subarray(p + LENGTH_BYTES, p + head))) {
      refused = `the record at byte ${p} is not authenticated by this node's key`;
      break;
    }
    const batch = decodePayload(payload);
    if (batch === undefined) break;
    const previous = batches[batches.length - 1]?.journalSeq;
    if (auth !== undefined && previous !== undefined && batch.journalSeq !== previous + 1) {
      refused = `the record at byte ${p} is out of order (seq ${batch.journalSeq ?? '?'} after ${previous})`;
      break;
    }
    batches.push(batch);
    p = end;
  }
  return { logId, headerLength, batches, tornBytes: file.length - p, ...(refused !== undefined ? { refused } : {}) };
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

/** A header line's version and log id, or undefined when the line is not a journal's header. */
function parseHeader(line: string): { readonly version: Version; readonly logId: string } | undefined {
  const match = /^idgate write-ahead journal ([123]) (.*)$/s.exec(line);
  const version = match?.[1];
  return version === '1' || version === '2' || version === '3' ? { version, logId: match?.[2] ?? '' } : undefined;
}

/** The log id a journal file's header names (its first line only is read), or undefined when there is no journal there. */
export function journalLogId(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, head.length, 0);
    const logId = parseHeader(head.toString('latin1', 0, n).split('\n')[0] ?? '')?.logId;
    return logId === '' ? undefined : logId;
  } finally {
    closeSync(fd);
  }
}

/** Where the write-ahead journal of the audit database at `databasePath` lives: beside it. */
export function journalPath(databasePath: string): string {
  return `${databasePath}.write-ahead`;
}
