import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConnectionConfig, MappingRule } from '../../../src/config/gateway-config.js';
import type { VerifiedIdentity } from '../../../src/identity/verified-identity.js';
import { grantConnection, ruleMatches } from '../../../src/policy/identity-map.js';

const GROUP = '3f6c1a52-0000-0000-0000-000000000001';
const OTHER_GROUP = '3f6c1a52-0000-0000-0000-000000000002';

function identity(groups: string[], roles: string[]): VerifiedIdentity {
  return {
    objectId: 'oid-1',
    appId: 'app-1',
    tenantId: 't',
    groups,
    roles,
    expiresAt: 0,
    tokenVersion: '2.0',
    keyId: 'k',
    groupsOverage: false,
    audience: 'a',
  };
}

function connection(name: string): ConnectionConfig {
  return {
    name,
    host: 'db',
    port: 5432,
    database: 'd',
    user: 'u',
    auth: { kind: 'entra', scope: 's' },
    tls: 'disable',
    connectTimeoutMs: 1000,
    searchPath: 'public',
    overloadLookup: 'kept-session',
  };
}

function rule(index: number, match: MappingRule['match'], connectionName: string, scope: string): MappingRule {
  return { index, match, connection: connectionName, scope, record: true, limits: {} };
}

const connections = new Map([
  ['records', connection('records')],
  ['orders', connection('orders')],
]);
const rules = [
  rule(0, { kind: 'entra-group', groupId: GROUP }, 'records', 'write:records'),
  rule(1, { kind: 'entra-app-role', role: 'Records.Read' }, 'records', 'read'),
  rule(2, { kind: 'entra-app-role', role: 'Orders.Read' }, 'orders', 'read'),
  // A group named in the file whose id Graph has not resolved (yet): it must never match anything.
  rule(3, { kind: 'entra-group', groupId: '', groupName: 'unresolved' }, 'orders', 'all'),
];

describe('the identity-map', () => {
  it('admits through the first entry, in file order, that names the connection and matches the token', () => {
    const both = grantConnection(identity([GROUP], ['Records.Read']), 'records', connections, rules);
    assert.equal(both.rule.index, 0, 'the group entry comes first in the file');
    assert.equal(grantConnection(identity([], ['Records.Read']), 'records', connections, rules).rule.index, 1);
    assert.equal(grantConnection(identity([OTHER_GROUP], ['Orders.Read']), 'orders', connections, rules).rule.scope, 'read');
    assert.equal(both.connection.name, 'records');
  });

  it('never lets an entry for one connection admit to another', () => {
    assert.throws(() => grantConnection(identity([GROUP], []), 'orders', connections, rules), { code: 'not-mapped' });
  });

  it('refuses an unknown connection before looking at the identity', () => {
    assert.throws(() => grantConnection(identity([GROUP], ['Records.Read']), 'missing', connections, rules), {
      code: 'unknown-connection',
    });
  });

  it('says who was refused, for the audit log, but not which groups would have done', () => {
    try {
      grantConnection(identity([OTHER_GROUP], ['Other.Role']), 'records', connections, rules);
      assert.fail('admitted');
    } catch (e) {
      assert.deepEqual((e as { subject?: unknown }).subject, { objectId: 'oid-1', appId: 'app-1' });
      assert.ok(!(e as Error).message.includes(GROUP));
    }
  });

  it('matches a role exactly and a group by its id; an unresolved group name matches nothing', () => {
    assert.equal(
      ruleMatches(rules[1] as MappingRule, identity([], ['records.read'])),
      false,
      'roles are case-sensitive, as Entra issues them',
    );
    assert.equal(ruleMatches(rules[3] as MappingRule, identity([''], [])), false);
    assert.throws(() => grantConnection(identity([''], []), 'orders', connections, rules), { code: 'not-mapped' });
  });
});
