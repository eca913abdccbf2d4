import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql, loadSqlParser, SqlSyntaxError } from '../../../../protocols/postgres/policy/analyze-sql.js';
import { checkScope } from '../../../../src/policy/check-scope.js';
import { parseScope } from '../../../../src/policy/scope.js';
import { ALL, TABLE } from '../../../support/scope-cases.js';

describe('scope checks on statements, with the real Postgres parser', () => {
  before(async () => {
    await loadSqlParser();
  });

  it(`covers at least 60 statements (${TABLE.length})`, () => {
    assert.ok(TABLE.length >= 60);
  });

  for (const [sql, scope, expected] of TABLE) {
    it(`${expected === true ? 'allows' : 'denies'} ${sql} under ${scope}`, () => {
      const decision = checkScope(parseScope(scope), analyzeSql(sql));
      if (expected === true) assert.deepEqual(decision, { allowed: true });
      else {
        assert.equal(decision.allowed, false);
        assert.match(decision.allowed ? '' : decision.reason, expected);
      }
    });
  }

  it('reports syntax errors as such', () => {
    assert.throws(() => analyzeSql('SELEC 1'), SqlSyntaxError);
  });

  it('takes unqualified tables to be in the connection’s schema', () => {
    const decision = checkScope(parseScope('write:records', 'app'), analyzeSql('INSERT INTO records VALUES (1)', 'app'));
    assert.deepEqual(decision, { allowed: true });
  });
});

describe('the verdict cache', () => {
  before(async () => {
    await loadSqlParser();
  });

  it('shares a verdict between queries that differ only in numbers, never when a value decides', async () => {
    const { decide } = await import('../../../../protocols/postgres/policy/decision-cache.js');
    const read = parseScope('read');
    assert.deepEqual(decide(read, 'public', 'SELECT * FROM records WHERE id = 1'), { allowed: true });
    assert.deepEqual(decide(read, 'public', 'SELECT * FROM records WHERE id = 2'), { allowed: true });
    assert.deepEqual(decide(read, 'public', 'SET default_transaction_read_only = 1'), { allowed: true });
    assert.equal(decide(read, 'public', 'SET default_transaction_read_only = 0').allowed, false);
    const scoped = parseScope('read:"t 1"');
    assert.deepEqual(decide(scoped, 'public', 'SELECT * FROM "t 1"'), { allowed: true });
    assert.equal(decide(scoped, 'public', 'SELECT * FROM "t 2"').allowed, false, 'quoted names are not numbers');
    assert.equal(decide(parseScope('write:records'), 'public', "SELECT set_config('role', 'x', false) FROM records WHERE id = 3").allowed, false);
  });
});
