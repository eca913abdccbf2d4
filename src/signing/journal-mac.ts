import { createHmac, hash } from 'node:crypto';

/** Bytes of a journal record's MAC (a 128-bit tag). */
export const MAC_BYTES = 16;

/**
 * The MAC of one write-ahead journal's records (version 3): the first 16 bytes of
 * SHA-512/256(key ‖ log id ‖ "\n" ‖ payload). A key prefix is a sound MAC for SHA-512/256,
 * unlike SHA-256, because its output hides half of its internal state, so a tag cannot be
 * extended over appended bytes (the reason HMAC nests SHA-256 twice). One one-shot hash per
 * record costs the relay thread about half of what an HMAC object did (each record is cut on the
 * relay thread, before its frames may go upstream); the log id binds a record to its journal (it
 * is the journal header's line, so it never holds the newline that ends it).
 */
export class JournalMac {
  /** key ‖ log id ‖ "\n": what is hashed before the payload. */
  private readonly prefix: Buffer;

  constructor(
    private readonly key: Buffer,
    private readonly logId: string,
  ) {
    this.prefix = Buffer.concat([key, Buffer.from(`${logId}\n`, 'latin1')]);
  }

  /** How many bytes before a payload `tagInto` writes to (and then zeroes). */
  get prefixLength(): number {
    return this.prefix.length;
  }

  /**
   * Writes the tag of `buffer[start, end)` at `at`, computed without copying the payload: the
   * prefix is written into the `prefixLength` bytes just before `start` (which the caller
   * reserved), hashed with the payload, and zeroed again, so no copy of the key is left in the
   * buffer; then the tag is written (`at` may lie in those bytes). The digest comes back as a
   * latin1 string: a Buffer would be a native allocation per record.
   */
  tagInto(buffer: Buffer, start: number, end: number, at: number): void {
    const from = start - this.prefix.length;
    this.prefix.copy(buffer, from);
    const digest = hash('sha512-256', buffer.subarray(from, end), 'binary');
    buffer.fill(0, from, start);
    buffer.write(digest, at, MAC_BYTES, 'latin1');
  }

  /** The tag of a payload read back (recovery: not on the relay's path, so a copy is fine). */
  tag(payload: Uint8Array): Buffer {
    return hash('sha512-256', Buffer.concat([this.prefix, payload]), 'buffer').subarray(0, MAC_BYTES);
  }

  /** The tag a version 2 journal carried (HMAC-SHA256 over log id, "\n", payload): read at recovery only. */
  tagV2(payload: Uint8Array): Buffer {
    return createHmac('sha256', this.key).update(this.logId).update('\n').update(payload).digest().subarray(0, MAC_BYTES);
  }
}
