import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LimitsConfig, MappingRule } from '../../../src/config/gateway-config.js';
import { effectiveLimits } from '../../../src/policy/effective-limits.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';

const APP = 'aaaaaaaa-0000-0000-0000-000000000001';
const OID = 'bbbbbbbb-0000-0000-0000-000000000002';

function grant(ruleLimits: MappingRule['limits']): SessionGrant {
  return {
    identity: {
      objectId: OID,
      appId: APP,
      tenantId: 't',
      groups: [],
      roles: [],
      expiresAt: 0,
      tokenVersion: '2.0',
      keyId: 'k',
      groupsOverage: false,
      audience: 'a',
    },
    rule: { index: 0, match: { kind: 'entra-app-role', role: 'R' }, connection: 'c', scope: 'read', record: true, limits: ruleLimits },
    connection: {
      name: 'c',
      host: 'h',
      port: 5432,
      database: 'd',
      user: 'u',
      auth: { kind: 'entra', scope: 's' },
      tls: 'disable',
      connectTimeoutMs: 1000,
      searchPath: 'public',
      overloadLookup: 'kept-session',
    },
  };
}

describe('effectiveLimits', () => {
  const limits: LimitsConfig = {
    defaults: { statementTimeoutMs: 30_000, idleTimeoutMs: 600_000, maxSessionsPerIdentity: 10 },
    identities: new Map([[APP, { statementTimeoutMs: 1000 }]]),
  };

  it('takes each key from the identity, then the mapping, then the defaults', () => {
    assert.deepEqual(effectiveLimits(limits, grant({ statementTimeoutMs: 5000, maxRows: 100 })), {
      maxSessionsPerIdentity: 10,
      statementTimeoutMs: 1000,
      idleTimeoutMs: 600_000,
      maxRows: 100,
    });
  });

  it('finds an identity entry by object id too, and leaves a limit out when no level sets it', () => {
    const byOid: LimitsConfig = { defaults: {}, identities: new Map([[OID, { idleTimeoutMs: 5 }]]) };
    assert.deepEqual(effectiveLimits(byOid, grant({})), { idleTimeoutMs: 5 });
  });
});
