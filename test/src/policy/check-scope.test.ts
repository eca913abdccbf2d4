import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScope } from '../../../src/config/scope.js';
import { checkScope } from '../../../src/policy/check-scope.js';

const records = { schema: 'public', table: 'records' };
const notes = { schema: 'public', table: 'notes' };

describe('checkScope with approve:', () => {
  it('holds only the operations approve: names: approve:delete holds a DELETE, not an UPDATE; a MERGE or an unknown write when any is held', () => {
    const scope = parseScope('write:records approve:delete:records');
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: records, op: 'delete' }]), {
      allowed: true,
      approval: 'deleting from public.records',
    });
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: records, op: 'update' }]), { allowed: true });
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: records, op: 'insert' }]), { allowed: true });
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: records, op: 'merge' }]), {
      allowed: true,
      approval: 'writing public.records',
    });
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: records }]), { allowed: true, approval: 'writing public.records' });
    assert.deepEqual(checkScope(parseScope('write approve:update'), [{ kind: 'write-every-table', what: 'TRUNCATE … CASCADE' }]), {
      allowed: true,
    });
  });

  it('holds the writes approve: names for approval, passes the rest, and refuses what the scope lacks whatever approve says', () => {
    const scope = parseScope('read write:records,notes approve:write:records');
    assert.deepEqual(checkScope(scope, [{ kind: 'read', table: records }]), { allowed: true });
    assert.deepEqual(checkScope(scope, [{ kind: 'write', table: notes }]), { allowed: true });
    assert.deepEqual(
      checkScope(scope, [
        { kind: 'read', table: notes },
        { kind: 'write', table: records },
      ]),
      {
        allowed: true,
        approval: 'writing public.records',
      },
    );
    const outside = checkScope(parseScope('read approve:write'), [{ kind: 'write', table: records }]);
    assert.equal(outside.allowed, false, 'approve never widens a scope');
    const truncate = checkScope(parseScope('read write approve:write'), [{ kind: 'write-every-table', what: 'TRUNCATE … CASCADE' }]);
    assert.deepEqual(truncate, { allowed: true, approval: 'TRUNCATE … CASCADE' });
  });
});
