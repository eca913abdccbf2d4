import { randomBytes } from 'node:crypto';
import { loginUpstream } from '../../protocols/postgres/upstream/login-upstream.js';
import { Bytes } from '../support/byte-builder.js';
import { CONNECTION, type Harness } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';

/** Values no scope under test may ever see: one stored only in `secrets`, one only in another session's statement. */
export interface Canaries {
  readonly secret: string;
  readonly activity: string;
}

/** Settings the oracle's server needs: every function call counted, user-defined and SQL ones included. */
export const ORACLE_SERVER_SETTINGS = { track_functions: 'all', max_prepared_transactions: '0' } as const;

/**
 * The database the oracle runs against, beside the harness's `records`: tables in and out of the
 * scopes, a user-defined function and operator that read `secrets`, a `pg_`-named table in public,
 * overloads of built-in names (`lower(integer)`, `||(text, integer)`), statistics that hold a canary (pg_stats), and another agent's session whose last statement
 * holds a second one (pg_stat_activity) — all reachable by the gateway's upstream role, so only
 * the gateway's scope stands between an agent and them.
 */
export async function prepareOracleDatabase(h: Harness): Promise<{ canaries: Canaries; otherAgent: RawClient }> {
  const canaries = { secret: `SECRETCANARY${randomBytes(6).toString('hex')}`, activity: `ACTIVITYCANARY${randomBytes(6).toString('hex')}` };
  await h.cluster.sql(
    [
      "ALTER TABLE records ALTER COLUMN title SET DEFAULT 'oracle'",
      'CREATE TABLE IF NOT EXISTS other (id int, name text)',
      "INSERT INTO other SELECT g, 'other ' || g FROM generate_series(1, 20) g",
      'CREATE TABLE secrets (id int PRIMARY KEY, name text)',
      `INSERT INTO secrets SELECT g, CASE WHEN g % 2 = 0 THEN '${canaries.secret}' ELSE 'secret ' || g END FROM generate_series(1, 200) g`,
      'CREATE TABLE "Records" (id int, name text)',
      'CREATE TABLE pg_audit_log (id int, name text)',
      "CREATE FUNCTION leak() RETURNS text LANGUAGE sql AS 'SELECT name FROM secrets ORDER BY id DESC LIMIT 1'",
      'CREATE FUNCTION leak_eq(int, int) RETURNS boolean LANGUAGE sql AS $$SELECT $1 = (SELECT count(*)::int FROM secrets)$$',
      'CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = leak_eq)',
      'CREATE VIEW secret_view AS SELECT * FROM secrets',
      // Issue 22: look-alike names, code reached through casts and operators in every position, a schema a changed search_path reaches, a foreign key.
      'CREATE FUNCTION "NOW"() RETURNS text LANGUAGE sql AS $$SELECT name FROM secrets ORDER BY id DESC LIMIT 1$$',
      'CREATE FUNCTION leak_check(int) RETURNS boolean LANGUAGE sql AS $$SELECT $1 IS NOT NULL OR (SELECT count(*) FROM secrets) > 0$$',
      'CREATE DOMAIN "INT4" AS int CHECK (leak_check(VALUE))',
      'CREATE FUNCTION leak_one(int) RETURNS int LANGUAGE sql AS $$SELECT $1 + (SELECT count(*)::int FROM secrets)$$',
      'CREATE OPERATOR @@@@ (RIGHTARG = int, FUNCTION = leak_one)',
      'CREATE TABLE "Secrets" (id int, name text)',
      'INSERT INTO "Secrets" SELECT id, name FROM secrets',
      'CREATE SCHEMA shadow',
      'CREATE VIEW shadow.records AS SELECT id, name AS title FROM public.secrets',
      'GRANT USAGE ON SCHEMA shadow TO sync_writer',
      'GRANT SELECT ON shadow.records TO sync_writer',
      'CREATE TABLE record_notes (record_id int REFERENCES records (id), note text)',
      "INSERT INTO record_notes SELECT id, 'note' FROM records",
      // Overloads of built-in names on the search path, which the server calls in the built-ins' place.
      'CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS $$SELECT name FROM secrets ORDER BY id DESC LIMIT 1$$',
      'CREATE FUNCTION cat_leak(text, integer) RETURNS text LANGUAGE sql AS $$SELECT name FROM secrets ORDER BY id DESC LIMIT 1$$',
      'CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = cat_leak)',
      // …and of the operators BETWEEN is built of, which the statement never names.
      'CREATE FUNCTION leak_cmp(text, integer) RETURNS boolean LANGUAGE sql AS $$SELECT (SELECT count(*) FROM secrets) > 0$$',
      'CREATE OPERATOR public.<= (LEFTARG = text, RIGHTARG = integer, FUNCTION = leak_cmp)',
      'CREATE OPERATOR public.>= (LEFTARG = text, RIGHTARG = integer, FUNCTION = leak_cmp)',
      'GRANT ALL ON other, secrets, "Records", "Secrets", pg_audit_log, secret_view, record_notes TO sync_writer',
      'ANALYZE secrets',
    ].join('; '),
    'records',
  );
  // Another agent of the same connection (the same upstream role), idle after a statement that names the canary.
  const otherAgent = await directSession(h);
  otherAgent.write(new Bytes().cstring(`SELECT '${canaries.activity}' AS other_agents_statement`).frame('Q'));
  await otherAgent.untilReady();
  return { canaries, otherAgent };
}

/** A session straight to Postgres as the gateway's upstream role, with the settings a scoped session of the gateway starts with. */
export async function directSession(h: Harness, extra: ReadonlyMap<string, string> = new Map()): Promise<RawClient> {
  const connection = h.config.connections.get(CONNECTION);
  if (connection === undefined) throw new Error(`no connection ${CONNECTION}`);
  const parameters = new Map([
    ['search_path', connection.searchPath],
    ['client_encoding', 'UTF8'],
    ['standard_conforming_strings', 'on'],
    ['statement_timeout', '5000'],
    ['lock_timeout', '2000'],
    ...extra,
  ]);
  return RawClient.fromUpstream(await loginUpstream(connection, parameters));
}
