import type { AuditReader, SessionRow } from '../audit/audit-reader.js';
import type { TranscriptEntry } from '../audit/transcript.js';
import type { WireProtocol } from '../protocol.js';

/** A stored session as statements with their outcomes, decoded by the protocol that recorded it. */
export function transcriptOf(protocol: WireProtocol, reader: AuditReader, session: SessionRow): TranscriptEntry[] {
  return protocol.buildTranscript(protocol.expandEvents(reader.events(session.id)), session.started_at_us);
}
