import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { analyzeSql, loadSqlParser, SqlSyntaxError } from '../../../../protocols/postgres/policy/analyze-sql.js';
import { checkScope } from '../../../../src/policy/check-scope.js';
import { parseScope } from '../../../../src/policy/scope.js';

const W = 'write:records';
const R = 'read';
const RT = 'read:records';
const ALL = 'all';

/** [statement, scope, allowed (true) or the reason it is denied] */
const TABLE: [string, string, true | RegExp][] = [
  // The seed's example: write:records admits writes to records and nothing else.
  ['INSERT INTO records (title) VALUES ($1)', W, true],
  ["UPDATE records SET title = 'x' WHERE id = 1", W, true],
  ['DELETE FROM records WHERE id = 1 RETURNING id, title', W, true],
  ['INSERT INTO records (id, title) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET title = excluded.title', W, true],
  ['MERGE INTO records r USING (VALUES (1)) v(id) ON r.id = v.id WHEN MATCHED THEN DELETE', W, true],
  ['TRUNCATE records', W, true],
  ['COPY records FROM STDIN', W, true],
  ['SELECT * FROM records', W, /reading public\.records is not allowed by scope "write:records"/],
  ['INSERT INTO other (x) VALUES (1)', W, /writing public\.other/],
  ['UPDATE records SET title = (SELECT name FROM secrets LIMIT 1)', W, /reading public\.secrets/],
  ['INSERT INTO records (title) SELECT name FROM secrets', W, /reading public\.secrets/],
  ['DELETE FROM records USING secrets WHERE records.id = secrets.id', W, /reading public\.secrets/],
  ['WITH d AS (DELETE FROM secrets RETURNING *) INSERT INTO records (title) SELECT name FROM d', W, /writing public\.secrets/],
  ['COPY records TO STDOUT', W, /reading public\.records/],
  ['CREATE TABLE x (id int)', W, /Create \(ddl\)/],
  ['DROP TABLE records', W, /Drop \(ddl\)/],
  // Quoting, case and comments.
  ['INSERT INTO "records" (title) VALUES (1)', W, true],
  ['INSERT INTO RECORDS (title) VALUES (1)', W, true],
  ['INSERT INTO public.records (title) VALUES (1)', W, true],
  ['INSERT INTO "Records" (title) VALUES (1)', W, /writing public\.Records/],
  ['INSERT /* records */ INTO other VALUES (1) -- records', W, /writing public\.other/],
  ['INSERT INTO sales.records (title) VALUES (1)', W, /writing sales\.records/],
  // Multi-statement strings: every statement is checked.
  ['INSERT INTO records (title) VALUES (1); DELETE FROM other', W, /writing public\.other/],
  ['SELECT 1; SELECT * FROM records', RT, true],
  // read
  ['SELECT * FROM records r JOIN other o ON o.id = r.id', R, true],
  ['SELECT * FROM records WHERE id IN (SELECT id FROM other)', RT, /reading public\.other/],
  ['WITH x AS (SELECT * FROM other) SELECT * FROM x', RT, /reading public\.other/],
  ['WITH x AS (SELECT * FROM records) SELECT * FROM x', RT, true],
  ['SELECT * FROM (SELECT * FROM (SELECT * FROM hidden) a) b', RT, /reading public\.hidden/],
  ['SELECT (SELECT max(id) FROM hidden) FROM records', RT, /reading public\.hidden/],
  ['SELECT * FROM records UNION SELECT * FROM hidden', RT, /reading public\.hidden/],
  ['SELECT * INTO copy_of FROM records', R, /SELECT INTO \(ddl\)/],
  ['CREATE TABLE c AS SELECT * FROM records', R, /CREATE TABLE AS \(ddl\)/],
  ['COPY records TO STDOUT', RT, true],
  ['COPY (SELECT * FROM hidden) TO STDOUT', RT, /reading public\.hidden/],
  ['EXPLAIN SELECT * FROM records', RT, true],
  ['EXPLAIN DELETE FROM records', RT, true],
  ['EXPLAIN ANALYZE DELETE FROM records', RT, /writing public\.records/],
  ['EXPLAIN (ANALYZE, BUFFERS) INSERT INTO records VALUES (1)', R, /writing public\.records/],
  ['EXPLAIN (ANALYZE false) DELETE FROM records', R, true],
  ['PREPARE p AS DELETE FROM records', R, /writing public\.records/],
  ['PREPARE p AS SELECT * FROM records WHERE id = $1', RT, true],
  ['EXECUTE p(1)', RT, true],
  ['DECLARE c CURSOR FOR SELECT * FROM hidden', RT, /reading public\.hidden/],
  ['SELECT * FROM records FOR UPDATE', RT, true],
  // Always allowed: housekeeping, statements without tables, the catalogs.
  ['BEGIN', RT, true],
  ['COMMIT', W, true],
  ['ROLLBACK', W, true],
  ['SAVEPOINT s1', W, true],
  ['RELEASE SAVEPOINT s1', W, true],
  ['SET statement_timeout = 1000', W, true],
  ['SHOW search_path', W, true],
  ['DISCARD ALL', RT, true],
  ['DEALLOCATE ALL', RT, true],
  ['LISTEN events', W, true],
  ['SELECT 1', W, true],
  ['SELECT now(), version(), current_user', W, true],
  ['SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace', W, true],
  ['SELECT table_name FROM information_schema.tables', W, true],
  ['SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a', W, true],
  // Denied: what cannot be checked against a scope.
  ["DO $$ BEGIN DELETE FROM records; END $$", W, /^DoStmt|Do is not allowed/],
  ['CALL do_things()', W, /Call is not allowed/],
  ["COPY records FROM PROGRAM 'curl x'", W, /COPY to or from a program/],
  ["COPY records FROM '/etc/passwd'", W, /COPY to or from a server file/],
  ["COPY records TO '/tmp/out'", RT, /server file/],
  ['SET ROLE postgres', W, /SET ROLE/],
  ['SET SESSION AUTHORIZATION postgres', W, /SET SESSION_AUTHORIZATION/],
  ['RESET ROLE', W, /SET ROLE/],
  ['SET search_path = secret, public', W, /changing search_path/],
  ["SELECT set_config('search_path', 'secret', false)", W, /changing search_path/],
  ['SET search_path = public', R, true],
  ['ALTER SYSTEM SET fsync = off', W, /AlterSystem is not allowed/],
  ["SELECT pg_read_file('/etc/passwd')", R, /function pg_read_file/],
  ["SELECT lo_import('/etc/passwd')", R, /function lo_import/],
  ["SELECT dblink('host=x', 'select 1')", R, /function dblink/],
  ["SELECT set_config('role', 'postgres', false)", R, /security setting/],
  ['SELECT pg_terminate_backend(123)', R, /function pg_terminate_backend/],
  ['SELECT my_function(1)', R, /user-defined functions need scope all/],
  ['SELECT public.helper() FROM records', R, /public\.helper\(\)/],
  ['GRANT ALL ON records TO public', W, /Grant is not allowed/],
  ['CREATE ROLE evil', W, /CreateRole is not allowed/],
  // Read-only sessions cannot switch themselves to read-write.
  ['SET default_transaction_read_only = off', R, /read-write/],
  ['SET default_transaction_read_only = on', R, true],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', R, /read-write/],
  ['BEGIN READ WRITE', R, /read-write/],
  ['SET TRANSACTION READ WRITE', RT, /read-write/],
  ['BEGIN READ ONLY', R, true],
  ['RESET ALL', R, /read-write/],
  ["SELECT set_config('default_transaction_read_only', 'off', false)", R, /read-write/],
  ['BEGIN READ WRITE', W, true],
  // ddl and all
  ['CREATE INDEX ON records (title)', 'ddl', true],
  ["COMMENT ON TABLE records IS 'x'", 'ddl', true],
  ['ALTER TABLE records ADD COLUMN x int', 'ddl', true],
  ['DO $$ BEGIN END $$', ALL, true],
  ['SET ROLE postgres', ALL, true],
];

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
