import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { covers, isReadOnly, parseScope, ScopeError } from '../../../src/config/scope.js';

describe('parseScope', () => {
  it('reads approve:ops[:tables] as writes held for approval, never as a grant, and refuses what it cannot hold', () => {
    const s = parseScope('read write approve:write:records,sales.orders approve:delete:notes');
    for (const op of ['insert', 'update', 'delete'] as const) {
      assert.equal(covers(s.approve[op], { schema: 'public', table: 'records' }), true);
      assert.equal(covers(s.approve[op], { schema: 'sales', table: 'orders' }), true);
      assert.equal(covers(s.approve[op], { schema: 'public', table: 'other' }), false);
    }
    assert.equal(covers(s.approve.delete, { schema: 'public', table: 'notes' }), true);
    assert.equal(covers(s.approve.update, { schema: 'public', table: 'notes' }), false);
    const some = parseScope('write:records approve:delete,update:records');
    assert.deepEqual([some.approve.insert.kind, some.approve.update.kind, some.approve.delete.kind], ['none', 'tables', 'tables']);
    assert.equal(parseScope('read approve:write').approve.delete.kind, 'any');
    assert.equal(parseScope('read approve:write').write.kind, 'none', 'approve never grants a write');
    assert.equal(parseScope('read write').approve.insert.kind, 'none');
    assert.throws(() => parseScope('read approve:drop'), /approve takes write, insert, update or delete/);
    assert.throws(() => parseScope('read approve'), /approve takes write, insert, update or delete/);
    assert.throws(() => parseScope('all approve:write'), /approve needs a parsed scope/);
  });

  it('reads the grants of the scope language', () => {
    const s = parseScope('write:records read');
    assert.equal(s.all, false);
    assert.equal(s.ddl, false);
    assert.equal(covers(s.write, { schema: 'public', table: 'records' }), true);
    assert.equal(covers(s.write, { schema: 'public', table: 'other' }), false);
    assert.equal(covers(s.read, { schema: 'sales', table: 'anything' }), true);
    assert.equal(isReadOnly(s), false);
    assert.equal(isReadOnly(parseScope('read:a,b')), true);
    assert.equal(parseScope('all').all, true);
    assert.equal(parseScope('ddl read').ddl, true);
  });

  it('qualifies targets with the default schema, folds unquoted names and keeps quoted ones', () => {
    const s = parseScope('read:Records,sales.Orders,"Mixed Case","odd"."Dots.In"', 'app');
    for (const [schema, table] of [
      ['app', 'records'],
      ['sales', 'orders'],
      ['app', 'Mixed Case'],
      ['odd', 'Dots.In'],
    ] as const) {
      assert.equal(covers(s.read, { schema, table }), true, `${schema}.${table}`);
    }
    assert.equal(covers(s.read, { schema: 'app', table: 'Records' }), false, 'Records was folded to records');
  });

  it('merges repeated grants; an unrestricted grant wins', () => {
    const s = parseScope('read:a read:b');
    assert.equal(covers(s.read, { schema: 'public', table: 'a' }) && covers(s.read, { schema: 'public', table: 'b' }), true);
    assert.equal(parseScope('read:a read').read.kind, 'any');
  });

  for (const [bad, message] of [
    ['', /at least one grant/],
    ['wirte:records', /unknown action "wirte"/],
    ['read:', /no table/],
    ['all:records', /takes no tables/],
    ['ddl:x', /takes no tables/],
    ['read:a.b.c', /not a table name/],
    ['read:"unterminated', /not a table name/],
    ['read:1abc', /not a table name/],
    ['read:a,,b', /not a table name/],
  ] as const) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => parseScope(bad),
        (e: unknown) => e instanceof ScopeError && message.test(e.message),
      );
    });
  }
});
