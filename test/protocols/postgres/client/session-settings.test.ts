import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySettings, timeMs } from '../../../../protocols/postgres/client/session-settings.js';
import type { SessionGrant } from '../../../../src/policy/session-grant.js';

const grant = (displayName?: string): SessionGrant => ({
  identity: {
    objectId: 'oid-1',
    appId: 'app-1',
    tenantId: 't',
    groups: [],
    roles: [],
    ...(displayName ? { displayName } : {}),
    expiresAt: 0,
    tokenVersion: '2.0',
    keyId: 'k',
    groupsOverage: false,
    audience: 'a',
  },
  rule: { index: 0, match: { kind: 'entra-app-role', role: 'R' }, connection: 'c', scope: 'read', record: true, limits: {} },
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
});

describe('gatewaySettings', () => {
  it('names the agent first in application_name and sets the idgate.* identity', () => {
    const s = gatewaySettings('sess-1', grant('billing-agent'), {}, [['application_name', 'report']]);
    assert.deepEqual(Object.fromEntries(s), {
      application_name: 'billing-agent | report',
      'idgate.identity_oid': 'oid-1',
      'idgate.app_id': 'app-1',
      'idgate.display_name': 'billing-agent',
      'idgate.session_id': 'sess-1',
    });
    assert.equal(gatewaySettings('s', grant(), {}, []).get('application_name'), 'app-1');
  });

  it('never lets a display name carry a NUL or control character into the startup packet', () => {
    const s = gatewaySettings('s', grant('evil\u0000role\u0000postgres\n'), {}, []);
    assert.equal(s.get('idgate.display_name'), 'evil?role?postgres?');
    assert.equal(s.get('application_name'), 'evil?role?postgres?');
  });

  it('sets the timeouts, keeping a client’s value only when it is stricter', () => {
    const limits = { statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 };
    assert.equal(gatewaySettings('s', grant(), limits, [['statement_timeout', '5s']]).get('statement_timeout'), '5000ms');
    assert.equal(gatewaySettings('s', grant(), limits, [['statement_timeout', '0']]).get('statement_timeout'), '30000ms');
    assert.equal(gatewaySettings('s', grant(), limits, [['statement_timeout', '1h']]).get('statement_timeout'), '30000ms');
    assert.equal(gatewaySettings('s', grant(), limits, [['statement_timeout', 'soon']]).get('statement_timeout'), '30000ms');
    assert.equal(gatewaySettings('s', grant(), limits, []).get('idle_in_transaction_session_timeout'), '60000ms');
    assert.equal(
      gatewaySettings('s', grant(), {}, [['statement_timeout', '5s']]).has('statement_timeout'),
      false,
      'no limit: the client’s own value is forwarded as is',
    );
  });

  it('reads Postgres time values in their units (ms by default)', () => {
    assert.equal(timeMs('250'), 250);
    assert.equal(timeMs('2 min'), 120_000);
    assert.equal(timeMs('1500us'), 2);
    assert.equal(timeMs('-1'), undefined);
    assert.equal(timeMs(undefined), undefined);
  });
});
