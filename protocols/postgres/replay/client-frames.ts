import type { EventRow } from '../../../src/audit/audit-reader.js';
import { ByteReader } from '../wire/byte-reader.js';
import { Frontend } from '../wire/codes.js';
import { RAW_FRAMES_KIND } from '../recording/raw-frames.js';

/** One thing to do again, at the time it was first done. */
export type ReplayStep =
  | { readonly atUs: number; readonly kind: 'frame'; readonly code: number; readonly frame: Buffer }
  | { readonly atUs: number; readonly kind: 'cancel' }
  | { readonly atUs: number; readonly kind: 'not-recorded'; readonly code: number; readonly bytes: number };

/**
 * The client's side of a recorded session, as the frames to send again: the stored frames
 * themselves, byte for byte (so prepared statements, binary parameters and result formats come
 * back exactly), CancelRequests, and what was not recorded (COPY data without `record: full`).
 * Terminate is left out: the replay ends its own connection.
 */
export function* replaySteps(rows: Iterable<EventRow>): Generator<ReplayStep> {
  for (const row of rows) {
    if (row.direction !== 'client') continue;
    if (row.kind === 'CancelRequest') {
      yield { atUs: row.at_us, kind: 'cancel' };
      continue;
    }
    if (row.kind !== RAW_FRAMES_KIND) continue;
    const r = new ByteReader(Buffer.from(row.data, 'base64'));
    while (r.remaining > 0) {
      const code = r.bytes(1)[0] ?? 0;
      if (code === 0) {
        const elided = r.bytes(1)[0] ?? 0;
        const length = r.int32();
        if (elided !== Frontend.PasswordMessage) yield { atUs: row.at_us, kind: 'not-recorded', code: elided, bytes: length - 4 };
        continue;
      }
      const length = r.int32();
      const body = r.bytes(length - 4);
      if (code === Frontend.Terminate) continue;
      const frame = Buffer.allocUnsafe(length + 1);
      frame[0] = code;
      frame.writeInt32BE(length, 1);
      body.copy(frame, 5);
      yield { atUs: row.at_us, kind: 'frame', code, frame };
    }
  }
}
