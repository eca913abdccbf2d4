import { nowMicros, type SessionHeader } from '../../src/audit/audit-event.js';

/** A recorded session's header for the audit benchmarks: what it says does not change their cost. */
export function benchSessionHeader(id: string): SessionHeader {
  return {
    id,
    protocol: 'postgres',
    startedAtUs: nowMicros(),
    identity: { objectId: 'o', appId: 'a', tenantId: 't' },
    clientUser: 'bench',
    mapping: { index: 0, kind: 'entra-group', value: 'g', connection: 'c', scope: 'all', record: true },
    clientAddress: '127.0.0.1',
    clientTls: false,
    upstream: 'h:1/d',
  };
}
