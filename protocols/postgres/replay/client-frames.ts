import type { EventRow } from '../../../src/audit/audit-reader.js';
import { Frontend } from '../wire/codes.js';
import { RAW_FRAMES_KIND, storedFrames } from '../recording/raw-frames.js';
import { UPSTREAM_LOGIN, upstreamLoginParameters } from '../recording/upstream-login.js';
import { eventBody } from '../recording/event-body.js';

/** One thing to do again, at the time it was first done. */
export type ReplayStep =
  | { readonly atUs: number; readonly kind: 'frame'; readonly code: number; readonly frame: Buffer }
  | { readonly atUs: number; readonly kind: 'cancel' }
  /** The gateway refused the next placeholder's statement with this SQLSTATE (its Denied event). */
  | { readonly atUs: number; readonly kind: 'denied'; readonly sqlstate: string }
  | { readonly atUs: number; readonly kind: 'not-recorded'; readonly code: number; readonly bytes: number }
  /** What the session's upstream login sent (its first event; sessions recorded before 2026-12-08 have none). */
  | { readonly atUs: number; readonly kind: 'login'; readonly parameters: readonly (readonly [string, string])[] };

/**
 * The client's side of a recorded session, as the frames to send again: the stored frames
 * themselves, byte for byte (so prepared statements, binary parameters and result formats come
 * back exactly), CancelRequests, and what was not recorded (COPY data without `record: full`).
 * Terminate is left out: the replay ends its own connection.
 */
export function* replaySteps(rows: Iterable<EventRow>): Generator<ReplayStep> {
  for (const row of rows) {
    if (row.direction === 'gateway' && row.kind === UPSTREAM_LOGIN) {
      yield { atUs: row.at_us, kind: 'login', parameters: upstreamLoginParameters(eventBody(row.body)) };
      continue;
    }
    if (row.direction === 'gateway' && row.kind === 'Denied') {
      yield { atUs: row.at_us, kind: 'denied', sqlstate: deniedSqlstate(row.body) };
      continue;
    }
    if (row.direction !== 'client') continue;
    if (row.kind === 'CancelRequest') {
      yield { atUs: row.at_us, kind: 'cancel' };
      continue;
    }
    if (row.kind !== RAW_FRAMES_KIND) continue;
    for (const { code, frame, length } of storedFrames(row.body)) {
      if (frame === undefined) {
        if (code !== Frontend.PasswordMessage) yield { atUs: row.at_us, kind: 'not-recorded', code, bytes: length - 4 };
        continue;
      }
      if (code === Frontend.Terminate) continue;
      yield { atUs: row.at_us, kind: 'frame', code, frame };
    }
  }
}

/** A Denied event's SQLSTATE; events from before it was recorded were scope denials, 42501. */
function deniedSqlstate(body: Buffer): string {
  const sqlstate = eventBody(body)['sqlstate'];
  return typeof sqlstate === 'string' ? sqlstate : '42501';
}
