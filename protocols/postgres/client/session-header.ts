import type { SessionHeader } from '../../../src/audit/audit-event.js';
import { nowMicros } from '../../../src/audit/audit-event.js';
import { entryRecord } from '../../../src/policy/entry-name.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';

/** The audit log's header for a Postgres session: who, through which mapping, from where, to which upstream. */
export function sessionHeader(
  id: string,
  grant: SessionGrant,
  clientUser: string,
  clientAddress: string,
  clientTls: boolean,
): SessionHeader {
  const { identity, rule, connection } = grant;
  return {
    id,
    protocol: 'postgres',
    startedAtUs: nowMicros(),
    identity: {
      objectId: identity.objectId,
      appId: identity.appId,
      tenantId: identity.tenantId,
      ...(identity.displayName !== undefined ? { displayName: identity.displayName } : {}),
    },
    clientUser,
    mapping: {
      entry: entryRecord(rule),
      connection: connection.name,
      scope: rule.scope,
      record: rule.record,
    },
    clientAddress,
    clientTls,
    upstream: `${connection.host}:${connection.port}/${connection.database}`,
  };
}
