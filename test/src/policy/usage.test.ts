import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Access } from '../../../src/policy/access.js';
import { isWiderThanUsed, UsedAccess } from '../../../src/policy/usage.js';

const t = (table: string, schema = 'public'): { schema: string; table: string } => ({ schema, table });
const used = (...lists: Access[][]): string => {
  const u = new UsedAccess();
  for (const l of lists) u.add(l);
  return u.narrowestScope('public');
};

describe('the narrowest scope for what ran', () => {
  it('names the tables read and written, quoted and qualified as the scope language writes them', () => {
    assert.equal(
      used(
        [{ kind: 'read', table: t('records') }],
        [
          { kind: 'write', table: t('records') },
          { kind: 'read', table: t('Mixed Case') },
        ],
      ),
      'read:"Mixed Case",records write:records',
    );
    assert.equal(used([{ kind: 'read', table: t('orders', 'sales') }]), 'read:sales.orders');
    assert.equal(
      used([
        { kind: 'read-every-table', what: 'pg_catalog.pg_stats' },
        { kind: 'read', table: t('x') },
      ]),
      'read',
    );
    assert.equal(
      used([
        { kind: 'ddl', what: 'Create' },
        { kind: 'listen', channel: 'events' },
      ]),
      'ddl listen:events',
    );
    assert.equal(used([{ kind: 'unchecked', what: 'DoStmt' }]), 'all');
    assert.equal(used([]), '');
  });

  it('calls a grant over-scoped when it admits more than was used', () => {
    assert.equal(isWiderThanUsed('read write:records', 'read:records', 'public'), true);
    assert.equal(isWiderThanUsed('read:records write:records', 'read:records', 'public'), true);
    assert.equal(isWiderThanUsed('read:records,other', 'read:records', 'public'), true);
    assert.equal(isWiderThanUsed('all', 'read:records', 'public'), true);
    assert.equal(isWiderThanUsed('read:records', 'read:records', 'public'), false);
    assert.equal(isWiderThanUsed('read:records', '', 'public'), true, 'a grant never used');
    assert.equal(isWiderThanUsed('all', 'all', 'public'), false);
    assert.equal(isWiderThanUsed('read listen', 'read', 'public'), true);
  });
});
