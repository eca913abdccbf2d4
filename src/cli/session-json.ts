import type { SessionRow } from '../audit/audit-reader.js';
import { isoFromUs } from './format.js';

/** The stable JSON form of a session header, shared by sessions, show and export. */
export function sessionJson(r: SessionRow): Record<string, unknown> {
  return {
    type: 'session',
    id: r.id,
    protocol: r.protocol,
    start: isoFromUs(r.started_at_us),
    startUs: r.started_at_us,
    end: r.ended_at_us === null ? null : isoFromUs(r.ended_at_us),
    endUs: r.ended_at_us,
    endReason: r.end_reason,
    identity: { objectId: r.identity_oid, appId: r.app_id, tenantId: r.tenant_id, displayName: r.display_name },
    clientUser: r.client_user,
    mapping: r.mapping,
    connection: r.connection,
    scope: r.scope,
    record: r.record_mode,
    clientAddress: r.client_address,
    clientTls: r.client_tls === 1,
    upstream: r.upstream,
    node: r.node_id,
    bytesFromClient: r.bytes_from_client,
    bytesToClient: r.bytes_to_client,
    rowsReturned: r.rows_returned ?? null,
    rowsAffected: r.rows_affected ?? null,
    statements: r.statements,
    errors: r.errors,
    events: r.event_count,
    sealHash: r.seal_hash,
  };
}
