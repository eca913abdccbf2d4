import { nowMicros, type SessionHeader } from '../../src/audit/audit-event.js';

/** A recorded session's header for audit-log tests and benchmarks: nothing in it changes what they measure but the id. */
export function sessionHeader(id: string): SessionHeader {
  return {
    id,
    protocol: 'postgres',
    startedAtUs: nowMicros(),
    identity: { objectId: 'o', appId: 'a', tenantId: 't' },
    clientUser: 'u',
    mapping: { entry: '#0 entra-group:g', connection: 'c', scope: 'all', record: true },
    clientAddress: '127.0.0.1',
    clientTls: true,
    upstream: 'h:1/d',
  };
}
