import { hash } from 'node:crypto';
import type { Direction } from './audit-event.js';

/**
 * The binary form of a session's events, as the relay's thread builds them and the database keeps
 * them (one BLOB per session per writer batch):
 *
 *   segment := chain(32) record*
 *   record  := length(u32) body hash(32)
 *   body    := at_us(f64) direction(u8) statements(u32) errors(u32) kind_length(u8) kind data
 *
 * A record's hash is SHA-256 over the 32 bytes before it (the previous record's hash, or the
 * leading chain slot holding the hash the segment continues from) and its own length and body —
 * a contiguous run of bytes, so the writer hashes each event with one call over a view and no
 * copying. Raw protocol frames are stored as they came (no base64, no text), and decoded only when
 * someone reads the log.
 */
export const HASH_BYTES = 32;
const BODY_FIXED = 8 + 1 + 4 + 4 + 1;
const DIRECTIONS: readonly Direction[] = ['client', 'server', 'gateway'];

/**
 * An event's data in pieces (a protocol's frames, as ranges of the buffers they arrived in), which
 * the segment copies in directly: no buffer is made to join them first.
 */
export interface EventBytes {
  readonly byteLength: number;
  /** Copies the bytes, in order, into `target` at `offset`. */
  copyTo(target: Uint8Array, offset: number): void;
}

/** A session's events the write-ahead journal does not hold yet (a segment builder's tail since the last cut). */
export interface UnjournaledEvents {
  readonly unjournaledCount: number;
  readonly unjournaledBytes: number;
  /** Copies those events to `target` at `offset`, and counts them as journaled from now on. */
  journalInto(target: Uint8Array, offset: number): void;
}

/** Collects one session's events between two writer batches, in a buffer the batch then transfers. */
export class SegmentBuilder implements UnjournaledEvents {
  private buf: Buffer;
  private view: DataView;
  private pos = HASH_BYTES;
  private events = 0;
  /** How much of the current buffer the write-ahead journal already holds (journaledSince). */
  private journaledPos = HASH_BYTES;
  private journaledEvents = 0;

  constructor(private capacity = 4096) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
    this.view = viewOf(this.buf);
  }

  get count(): number {
    return this.events;
  }

  /** Appends one event; returns the bytes it took. */
  append(atUs: number, direction: Direction, kind: string, statements: number, errors: number, data: EventBytes | Uint8Array): number {
    const bodyLength = BODY_FIXED + kind.length + data.byteLength;
    const size = 4 + bodyLength + HASH_BYTES;
    this.reserve(size);
    // A DataView rather than Buffer's write methods: no argument checks and no calls per field.
    const v = this.view;
    let p = this.pos;
    v.setUint32(p, bodyLength);
    v.setFloat64(p + 4, atUs);
    v.setUint8(p + 12, DIRECTIONS.indexOf(direction));
    v.setUint32(p + 13, statements);
    v.setUint32(p + 17, errors);
    v.setUint8(p + 21, kind.length);
    p += 22;
    // Kinds are a few ASCII characters: a loop beats a call into native code for each event.
    const b = this.buf;
    for (let i = 0; i < kind.length; i++) b[p++] = kind.charCodeAt(i);
    if (data instanceof Uint8Array) b.set(data, p);
    else data.copyTo(b, p);
    this.pos = p + data.byteLength + HASH_BYTES; // the writer fills the hash in
    this.events += 1;
    return size;
  }

  /** Events appended since the last cut of the write-ahead journal. */
  get unjournaledCount(): number {
    return this.events - this.journaledEvents;
  }

  get unjournaledBytes(): number {
    return this.pos - this.journaledPos;
  }

  /** Copies the events appended since the last cut into a journal record, and counts them as journaled. */
  journalInto(target: Uint8Array, offset: number): void {
    this.buf.copy(target, offset, this.journaledPos, this.pos);
    this.journaledPos = this.pos;
    this.journaledEvents = this.events;
  }

  /**
   * The events so far as a segment on its own ArrayBuffer (for a transfer list: handed over, not
   * copied), and a fresh buffer for the next ones.
   */
  take(): { readonly buffer: ArrayBuffer; readonly length: number; readonly count: number } {
    const taken = { buffer: this.buf.buffer as ArrayBuffer, length: this.pos, count: this.events };
    this.capacity = Math.max(4096, Math.min(this.pos * 2, 1 << 20));
    this.buf = Buffer.allocUnsafeSlow(this.capacity);
    this.view = viewOf(this.buf);
    this.pos = HASH_BYTES;
    this.events = 0;
    this.journaledPos = HASH_BYTES;
    this.journaledEvents = 0;
    return taken;
  }

  private reserve(size: number): void {
    if (this.pos + size <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + size));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = viewOf(grown);
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface SegmentTotals {
  /** The last record's hash (the chain tip), or the one the segment continued from if it is empty. */
  readonly tip: Buffer;
  readonly statements: number;
  readonly errors: number;
}

/**
 * Chains a built segment onto `previous` (32 bytes): writes it into the leading slot and each
 * record's hash after its body, one SHA-256 call per event over the contiguous bytes.
 */
export function sealSegment(segment: Buffer, previous: Buffer): SegmentTotals {
  previous.copy(segment, 0, 0, HASH_BYTES);
  const v = viewOf(segment);
  let statements = 0;
  let errors = 0;
  let p = HASH_BYTES;
  while (p < segment.length) {
    const end = p + 4 + v.getUint32(p);
    statements += v.getUint32(p + 4 + 9);
    errors += v.getUint32(p + 4 + 13);
    // As a 'binary' (latin1) string: a digest returned as a Buffer costs a native allocation per event,
    // twice the hash itself.
    const digest = hash('sha256', segment.subarray(p - HASH_BYTES, end), 'binary');
    for (let i = 0; i < HASH_BYTES; i++) segment[end + i] = digest.charCodeAt(i);
    p = end + HASH_BYTES;
  }
  const tip = Buffer.from(segment.subarray(p - HASH_BYTES, p));
  return { tip, statements, errors };
}

/** One stored record, decoded. */
export interface SegmentRecord {
  readonly atUs: number;
  readonly direction: Direction | 'unknown';
  readonly kind: string;
  readonly statements: number;
  readonly errors: number;
  readonly data: Buffer;
  /** length + body: what the hash covers after the previous hash. */
  readonly hashed: Buffer;
  readonly hash: Buffer;
}

/** The records of a stored segment (the leading chain slot first: what it claims to continue from). */
export function readSegment(segment: Buffer): { readonly chain: Buffer; readonly records: SegmentRecord[] } {
  const records: SegmentRecord[] = [];
  let p = HASH_BYTES;
  while (p + 4 <= segment.length) {
    const bodyLength = segment.readUInt32BE(p);
    const body = p + 4;
    const end = body + bodyLength;
    if (bodyLength < BODY_FIXED || end + HASH_BYTES > segment.length) break; // a truncated tail reads as missing events
    const kindLength = segment.readUInt8(body + 17);
    records.push({
      atUs: segment.readDoubleBE(body),
      direction: DIRECTIONS[segment.readUInt8(body + 8)] ?? 'unknown',
      statements: segment.readUInt32BE(body + 9),
      errors: segment.readUInt32BE(body + 13),
      kind: segment.toString('latin1', body + 18, body + 18 + kindLength),
      data: segment.subarray(body + 18 + kindLength, end),
      hashed: segment.subarray(p, end),
      hash: segment.subarray(end, end + HASH_BYTES),
    });
    p = end + HASH_BYTES;
  }
  return { chain: segment.subarray(0, HASH_BYTES), records };
}

/** A record's chain hash given its predecessor's (what verify recomputes). */
export function recordHash(previous: Buffer, hashed: Buffer): Buffer {
  return hash('sha256', Buffer.concat([previous, hashed]), 'buffer');
}

/** Chain hashes are kept as text in the sessions table: the head as hex, event hashes as base64. */
export function hashBytes(text: string): Buffer {
  return text.length === 64 ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
}
