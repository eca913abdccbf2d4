import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql } from '../../../../protocols/postgres/policy/analyze-sql.js';
import { type AnalysisContext } from '../../../../protocols/postgres/policy/analysis-context.js';
import { decide } from '../../../../protocols/postgres/policy/decision-cache.js';
import { StatementRejected } from '../../../../protocols/postgres/policy/statement-rejected.js';
import { checkScope } from '../../../../src/policy/check-scope.js';
import { parseScope } from '../../../../src/config/scope.js';
import { TABLE } from '../../../support/scope-cases.js';
import { analysisContext } from '../../../support/sql-analysis.js';

describe('scope checks on statements, with the real Postgres parser', () => {
  let context: AnalysisContext;
  before(async () => {
    context = await analysisContext();
  });

  it(`covers at least 60 statements (${TABLE.length})`, () => {
    assert.ok(TABLE.length >= 60);
  });

  for (const [sql, scope, expected] of TABLE) {
    it(`${expected === true ? 'allows' : 'denies'} ${sql} under ${scope}`, () => {
      const decision = checkScope(parseScope(scope), analyzeSql(sql, context).accesses);
      if (expected === true) assert.deepEqual(decision, { allowed: true });
      else {
        assert.equal(decision.allowed, false);
        assert.match(decision.allowed ? '' : decision.reason, expected);
      }
    });
  }

  it('rejects what does not parse with the parser’s message and the 1-based character position', () => {
    assert.throws(
      () => analyzeSql('SELECT é, é FROM WHERE', context),
      (e: unknown) =>
        e instanceof StatementRejected && e.sqlstate === '42601' && e.position === 18 && /syntax error at or near "WHERE"/.test(e.message),
    );
  });

  it('rejects a statement the grammar cannot hold as too complex (54001), and one JavaScript cannot walk too', () => {
    assert.throws(
      () => analyzeSql(`SELECT ${'('.repeat(20_000)}1${')'.repeat(20_000)}`, context),
      (e: unknown) => e instanceof StatementRejected && e.sqlstate === '54001',
    );
    assert.throws(
      () => analyzeSql(`SELECT ${Array(200_000).fill('1').join('+')}`, context),
      (e: unknown) => e instanceof StatementRejected && e.sqlstate === '54001',
    );
  });

  it('parses with the grammar of the server’s major version: 0x1F is 0 AS x1F for PostgreSQL 15, a number for 16', async () => {
    const columnName = (major: number, tree: unknown): unknown => JSON.stringify(tree).includes('"name":"x1f"') || major;
    const v15 = (await analysisContext('public', 15)).parser.parse('SELECT 0x1F');
    const v16 = (await analysisContext('public', 16)).parser.parse('SELECT 0x1F');
    assert.equal(columnName(15, v15), true);
    assert.equal(columnName(16, v16), 16);
  });

  it('takes unqualified tables to be in the connection’s schema', async () => {
    const decision = checkScope(
      parseScope('write:records', 'app'),
      analyzeSql('INSERT INTO records VALUES (1)', await analysisContext('app')).accesses,
    );
    assert.deepEqual(decision, { allowed: true });
  });

  it('takes only ASCII names on a server whose encoding is not UTF8 (0A000)', () => {
    const latin1 = { ...context, asciiNamesOnly: true };
    assert.equal(checkScope(parseScope('read'), analyzeSql('SELECT * FROM records', latin1).accesses).allowed, true);
    const decision = checkScope(parseScope('read'), analyzeSql('SELECT * FROM café', latin1).accesses);
    assert.equal(decision.allowed ? '' : decision.kind, 'unsupported');
  });
});

describe('the verdict cache', () => {
  let context: AnalysisContext;
  before(async () => {
    context = await analysisContext();
  });

  it('holds a write approve: names for approval, but refuses outright what an approval of the text could not pin', () => {
    const scope = parseScope('read write:records approve:write:records');
    const held = decide(scope, context, 'DELETE FROM records WHERE id = 7');
    assert.deepEqual(held, {
      allowed: false,
      sqlstate: 'IGA01',
      message: 'deleting from public.records needs approval',
      approval: 'deleting from public.records',
    });
    for (const [sql, what] of [
      ['PREPARE del AS DELETE FROM records WHERE id = 7', /cannot be given to PREPARE \(EXECUTE runs it again and again\)/],
      ['COPY records (title) FROM STDIN', /cannot be given to COPY … FROM STDIN \(the rows come after the statement\)/],
      ['SELECT 1; PREPARE del2 AS DELETE FROM records', /cannot be given to PREPARE/],
    ] as const) {
      const verdict = decide(scope, context, sql);
      assert.equal(verdict.allowed ? '' : verdict.sqlstate, '0A000', sql);
      assert.match(verdict.allowed ? '' : verdict.message, what);
    }
    assert.deepEqual(
      decide(scope, context, 'PREPARE one AS SELECT * FROM records'),
      { allowed: true },
      'a PREPARE that needs no approval is as before',
    );
  });

  it('names a setting a statement changes that changes how the session reads statements, and no other', () => {
    const scope = parseScope('read write:records approve:delete');
    const reading = (sql: string): string | undefined => {
      const v = decide(scope, context, sql);
      return v.changesReading;
    };
    assert.equal(reading("SET datestyle = 'DMY'"), 'datestyle');
    assert.equal(reading("SET LOCAL TimeZone = 'UTC'"), 'timezone');
    assert.equal(reading('SET transform_null_equals = on'), 'transform_null_equals');
    assert.equal(reading("SELECT set_config('app.tenant', 'b', false)"), 'app.tenant', 'a custom setting a policy may read');
    assert.equal(reading("SELECT set_config('Array_Nulls', 'off', true), 1"), 'array_nulls');
    assert.equal(reading('SET extra_float_digits = 0'), 'extra_float_digits', '0 and below round floats written as text');
    assert.equal(reading('SET some_future_setting = 1'), 'some_future_setting', 'a setting not known to be harmless counts');
    for (const harmless of [
      "SET statement_timeout = '5s'",
      'SET extra_float_digits = 3',
      'SET enable_seqscan = off',
      'SET jit = off',
      "SET application_name = 'x'",
      'RESET datestyle',
      'SET datestyle TO DEFAULT',
      'RESET ALL',
      "EXPLAIN SELECT set_config('datestyle', 'DMY', false)",
    ]) {
      assert.equal(reading(harmless), undefined, harmless);
    }
    // A statement needing approval carries it too: once it runs approved, the session is marked.
    assert.equal(reading("WITH s AS (SELECT set_config('datestyle', 'DMY', false)) DELETE FROM records WHERE id = 1"), 'datestyle');
  });

  it('shares a verdict between queries that differ only in numbers, never when a value decides', () => {
    const read = parseScope('read');
    assert.deepEqual(decide(read, context, 'SELECT * FROM records WHERE id = 1'), { allowed: true });
    assert.deepEqual(decide(read, context, 'SELECT * FROM records WHERE id = 2'), { allowed: true });
    assert.deepEqual(decide(read, context, 'SET default_transaction_read_only = 1'), { allowed: true });
    assert.equal(decide(read, context, 'SET default_transaction_read_only = 0').allowed, false);
    const scoped = parseScope('read:"t 1"');
    assert.deepEqual(decide(scoped, context, 'SELECT * FROM "t 1"'), { allowed: true });
    assert.equal(decide(scoped, context, 'SELECT * FROM "t 2"').allowed, false, 'quoted names are not numbers');
    assert.equal(
      decide(parseScope('write:records'), context, "SELECT set_config('role', 'x', false) FROM records WHERE id = 3").allowed,
      false,
    );
  });

  it('never takes a digit that continues a name for a number: é1 and é2 are different tables', () => {
    const scoped = parseScope('read:é1');
    assert.deepEqual(decide(scoped, context, 'SELECT * FROM é1'), { allowed: true });
    assert.equal(decide(scoped, context, 'SELECT * FROM é2').allowed, false);
    assert.deepEqual(decide(parseScope('read:t1'), context, 'SELECT * FROM t1 /* 1 */'), { allowed: true });
    assert.equal(decide(parseScope('read:t1'), context, 'SELECT * FROM t2 /* 1 */').allowed, false);
  });

  it('keeps verdicts apart for different parser versions', async () => {
    const v16 = await analysisContext('public', 16);
    assert.deepEqual(decide(parseScope('read'), context, 'SELECT 123abc'), { allowed: true }, 'PostgreSQL 15 reads 123 AS abc');
    assert.equal(decide(parseScope('read'), v16, 'SELECT 123abc').allowed, false, 'PostgreSQL 16 refuses trailing junk');
  });

  it('issue 22: keeps one text’s exact verdict apart from another text’s shape (\\x01 + text, then the same shape)', () => {
    const scope = parseScope('read:records');
    // The exact key of "\x01select … = 0" once equalled the shape key of "select … = 7".
    assert.equal(decide(scope, context, '\x01select body from records where id = 0').allowed, false);
    assert.deepEqual(decide(scope, context, 'select body from records where id = 7'), { allowed: true });
    const longText = `select body from records where id = 1 /* ${'x'.repeat(3000)} */`;
    assert.deepEqual(decide(scope, context, longText), { allowed: true });
    assert.equal(decide(scope, context, `\x02${longText}`).allowed, false);
  });

  it('refuses, never passes, what the analysis cannot finish', () => {
    const verdict = decide(parseScope('read'), context, 'SELEC 1');
    assert.equal(verdict.allowed, false);
    assert.equal(verdict.allowed ? '' : verdict.sqlstate, '42601');
  });
});
