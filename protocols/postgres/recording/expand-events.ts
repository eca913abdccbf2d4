import type { EventRow } from '../../../src/audit/audit-reader.js';
import type { RecordedEvent } from '../../../src/audit/transcript.js';
import { StatementTypes } from './frontend-events.js';
import { decodeClientFrames, decodeServerFrames, RAW_FRAMES_KIND } from './raw-frames.js';
import { eventBody } from './event-body.js';

/**
 * A Postgres session's stored events, decoded for reading: each stored chunk of raw frames becomes
 * one event per frame (same time, same direction, in order); other events pass through.
 */
export function* expandEvents(rows: Iterable<EventRow>): Generator<RecordedEvent> {
  const types = new StatementTypes();
  for (const row of rows) {
    if (row.kind !== RAW_FRAMES_KIND) {
      yield {
        seq: row.seq,
        atUs: row.at_us,
        direction: row.direction,
        kind: row.kind,
        data: eventBody(row.body),
      };
      continue;
    }
    // Frames were kept only when their content was to be recorded, so decode whatever is there.
    const decoded = row.direction === 'client' ? decodeClientFrames(row.body, types, true) : decodeServerFrames(row.body);
    for (const d of decoded) yield { seq: row.seq, atUs: row.at_us, direction: row.direction, kind: d.kind, data: d.data };
  }
}
