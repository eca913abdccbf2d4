import { TABLE } from '../support/scope-cases.js';
import { seededRandom } from '../support/seeded-random.js';

/** One case: the Query texts one session sends in order (bytes: some are not UTF-8 on purpose), and how it was made. */
export interface OracleCase {
  readonly id: number;
  readonly messages: readonly Buffer[];
  readonly origin: string;
}

/** Tables and catalogs the statements name: in the scopes under test, out of them, and look-alikes. */
const TABLES = [
  'records',
  'records',
  'other',
  'secrets',
  'public.secrets',
  '"Records"',
  'pg_audit_log',
  'secret_view',
  'public.records',
  'pg_catalog.pg_class',
  'pg_stats',
  'pg_catalog.pg_statistic',
  'pg_stat_activity',
  'pg_stat_user_tables',
  'information_schema.tables',
  '"Secrets"',
  'record_notes',
  'pg_settings',
];
/** Expressions: built-ins, user-defined code, settings, catalogs' functions. */
const EXPRESSIONS = [
  'id',
  '1',
  'lower(name)',
  'length(title)',
  'leak()',
  'public.leak()',
  "pg_catalog.lower('A')",
  'id === 1',
  '1 OPERATOR(pg_catalog.+) 1',
  "set_config('standard_conforming_strings', 'off', false)",
  "set_config('client_encoding', 'SJIS', false)",
  "set_config('search_path', 'pg_catalog', false)",
  "current_setting('server_version')",
  "pg_notify('ch', 'x')",
  "to_tsquery('a & b')",
  "query_to_xml('SELECT * FROM secrets', true, true, '')",
  "pg_read_file('/etc/hostname')",
  'pg_terminate_backend(1)',
  'pg_stat_get_backend_activity(1)',
  '(SELECT name FROM secrets LIMIT 1)',
  '(SELECT count(*) FROM other)',
  "'a'::regclass",
  "'secrets'::regclass::oid",
  'now()',
  'generate_series(1, 2)',
  // Issue 22: operators in every position, look-alike names, casts that run code.
  '"NOW"()',
  '"lower"(\'A\')',
  '\'1\'::"INT4"',
  'CAST(1 AS public."INT4")',
  '(SELECT a FROM json_to_record(\'{"a": 1}\') AS x(a "INT4"))',
  '1 === ANY (SELECT 1)',
  '1 === ALL (SELECT id FROM other)',
  '1 OPERATOR(public.===) SOME (ARRAY[1, 2])',
  '@@@@ 1',
  'OPERATOR(public.@@@@) 1',
  '(1 === 1) IS DISTINCT FROM true',
  'NULLIF(1 === 1, true)',
  '1 IN (SELECT 1 WHERE 1 === 1)',
  // Built-in names a schema on the search path overloads: the server calls the overload.
  'lower(1)',
  'lower(id)',
  "'x' || 1",
  'pg_catalog.lower(1::text)',
  "'a'::text BETWEEN 1 AND 2",
  "'a'::text NOT BETWEEN SYMMETRIC 2 AND 1",
];
/** Names a WITH clause gives its CTEs: tables and catalogs it might shadow, quoted look-alikes among them. */
const CTE_NAMES = ['secrets', 'records', 'other', 'pg_stat_activity', 'pg_stats', 'pg_settings', '"Secrets"', '"Records"'];
/** What their bodies read: a table outside every scope, one inside, another session's statements, a look-alike. */
const CTE_BODIES = ['secrets', 'public.secrets', 'records', 'pg_stat_activity', '"Secrets"'];
const TEMPLATES: readonly ((t: string, u: string, e: string) => string)[] = [
  (t) => `SELECT * FROM ${t}`,
  (t, _u, e) => `SELECT ${e} FROM ${t}`,
  (_t, _u, e) => `SELECT ${e}`,
  (t, u) => `SELECT count(*) FROM ${t} WHERE id IN (SELECT id FROM ${u})`,
  (t) => `WITH x AS (SELECT * FROM ${t}) SELECT * FROM x`,
  (t) => `WITH d AS (DELETE FROM ${t} WHERE id = 1 RETURNING *) SELECT count(*) FROM d`,
  (t, _u, e) => `INSERT INTO ${t} (id) VALUES (${e})`,
  (t, u) => `INSERT INTO ${t} (id) SELECT id FROM ${u}`,
  (t, _u, e) => `UPDATE ${t} SET id = id WHERE id = ${e}`,
  (t, u) => `DELETE FROM ${t} USING ${u} WHERE ${t}.id = ${u}.id`,
  (t, u) => `MERGE INTO ${t} a USING ${u} b ON a.id = b.id WHEN MATCHED THEN DELETE`,
  (t) => `COPY ${t} TO STDOUT`,
  (t) => `COPY (SELECT * FROM ${t}) TO STDOUT`,
  (t, _u, e) => `COPY ${t} (id) FROM STDIN WHERE ${e} IS NOT NULL`,
  (t) => `EXPLAIN ANALYZE SELECT * FROM ${t}`,
  (t) => `EXPLAIN SELECT * FROM ${t} WHERE id = 1`,
  (t) => `EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM ${t}`,
  (t) => `PREPARE oracle_p AS SELECT * FROM ${t}; EXECUTE oracle_p`,
  (_t, _u, e) => `PREPARE oracle_q(int) AS SELECT $1; EXECUTE oracle_q(${e})`,
  (t) => `DECLARE oracle_c CURSOR FOR SELECT * FROM ${t}; FETCH ALL FROM oracle_c`,
  (t, u) => `SELECT * FROM ${t} a JOIN ${u} b ON a.id = b.id`,
  (t, u) => `SELECT (SELECT max(id) FROM ${u}) FROM ${t}`,
  (t) => `TABLE ${t}`,
  (t) => `SELECT 1 WHERE EXISTS (SELECT 1 FROM ${t})`,
  (t) => `VALUES ((SELECT count(*) FROM ${t}))`,
  (t) => `SELECT * FROM generate_series(1, 2) g, LATERAL (SELECT * FROM ${t} LIMIT 1) s`,
  (t) => `LOCK TABLE ${t} IN ACCESS SHARE MODE`,
  (t) => `SELECT * FROM ${t} TABLESAMPLE bernoulli(50)`,
  (t) => `CREATE TEMP TABLE oracle_tmp AS SELECT * FROM ${t}`,
  (t) => `TRUNCATE ${t}`,
  (t) => `SELECT ${t} FROM ${t}`,
  (_t, _u, e) => `DO $$BEGIN PERFORM ${e}; END$$`,
  () => 'LISTEN ch',
  () => "NOTIFY ch, 'x'",
  (t) => `ANALYZE ${t}`,
  // The string-escape trick: with standard_conforming_strings off the server reads the payload as code.
  (t) => `SELECT '\\'' , (SELECT count(*) FROM ${t}) --'`,
  (t) => `SELECT E'\\'' , (SELECT count(*) FROM ${t}) --'`,
  (t) => `SELECT $q$'$q$ , (SELECT count(*) FROM ${t}) --'`,
  (t) => `TRUNCATE ${t} CASCADE`,
  (t, _u, e) => `SELECT 1 FROM ${t} WHERE id = ANY (SELECT ${e})`,
];

/**
 * Issue 22's classes, each in every form the server distinguishes: CTE visibility (own body,
 * later siblings, nested WITH, RECURSIVE, subqueries, data-modifying CTEs and write targets),
 * writes to catalog views that change settings followed by what the changed setting would let
 * through, and TRUNCATE … CASCADE over a foreign key. Operators and look-alike names are in
 * EXPRESSIONS and so in every template.
 */
function nameResolutionCases(add: (origin: string, ...messages: (string | Buffer)[]) => void): void {
  for (const name of CTE_NAMES) {
    for (const body of CTE_BODIES) {
      add('cte: own body', `WITH ${name} AS (SELECT * FROM ${body}) SELECT * FROM ${name}`);
      add('cte: earlier sibling', `WITH a AS (SELECT * FROM ${name}), ${name} AS (SELECT * FROM ${body}) SELECT * FROM a`);
      add('cte: nested', `WITH x AS (SELECT 1) SELECT * FROM (WITH ${name} AS (SELECT * FROM ${name}) SELECT * FROM ${name}) s`);
      add('cte: recursive', `WITH RECURSIVE ${name} AS (SELECT * FROM ${body}) SELECT * FROM ${name}`);
      add('cte: subquery', `WITH ${name} AS (SELECT * FROM ${body}) SELECT * FROM (SELECT * FROM ${name}) s`);
    }
    add('cte: delete target', `WITH ${name} AS (SELECT 1), d AS (DELETE FROM ${name} RETURNING *) SELECT count(*) FROM d`);
    add('cte: update target', `WITH ${name} AS (SELECT 1), d AS (UPDATE ${name} SET id = id RETURNING *) SELECT count(*) FROM d`);
    add('cte: insert target', `WITH ${name} AS (SELECT 1) INSERT INTO ${name} (id) VALUES (1)`);
    add(
      'cte: merge target',
      `WITH ${name} AS (SELECT 1 AS id) MERGE INTO ${name} t USING records r ON t.id = r.id WHEN MATCHED THEN DELETE`,
    );
    add('cte: main statement', `WITH ${name} AS (SELECT 1) DELETE FROM ${name}`);
  }
  const changes: [string, string, string | Buffer][] = [
    ['search_path', 'shadow', 'SELECT * FROM records'],
    ['search_path', 'shadow, public', 'SELECT title FROM records LIMIT 1'],
    ['standard_conforming_strings', 'off', "SELECT '\\'' , (SELECT count(*) FROM secrets) --'"],
    [
      'client_encoding',
      'SJIS',
      Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0x95, 0x5c]), Buffer.from("' , (SELECT count(*) FROM secrets) --'")]),
    ],
    ['default_transaction_read_only', 'off', 'DELETE FROM records WHERE id = 1'],
  ];
  for (const [name, value, then] of changes) {
    for (const write of [
      `UPDATE pg_settings SET setting = '${value}' WHERE name = '${name}'`,
      `UPDATE pg_catalog.pg_settings SET setting = '${value}' WHERE name = '${name}'`,
      `WITH s AS (UPDATE pg_settings SET setting = '${value}' WHERE name = '${name}' RETURNING 1) SELECT count(*) FROM s`,
    ]) {
      add(`catalog write: ${name}`, write, then);
      add(`catalog write: ${name}, one Query`, Buffer.concat([Buffer.from(`${write}; `), Buffer.from(then)]));
    }
  }
  for (const t of ['records', 'public.records', 'records, other', 'ONLY records']) {
    add('truncate cascade', `TRUNCATE ${t} CASCADE`);
    add('truncate cascade', `TRUNCATE TABLE ${t} RESTART IDENTITY CASCADE`);
  }
}

/** Encodings the server accepts from clients: each is refused under a parsed scope. */
const CLIENT_ENCODINGS = [
  'BIG5',
  'EUC_CN',
  'EUC_JP',
  'EUC_JIS_2004',
  'EUC_KR',
  'EUC_TW',
  'GB18030',
  'GBK',
  'ISO_8859_5',
  'ISO_8859_6',
  'ISO_8859_7',
  'ISO_8859_8',
  'JOHAB',
  'KOI8R',
  'KOI8U',
  'LATIN1',
  'LATIN2',
  'LATIN3',
  'LATIN4',
  'LATIN5',
  'LATIN6',
  'LATIN7',
  'LATIN8',
  'LATIN9',
  'LATIN10',
  'MULE_INTERNAL',
  'SJIS',
  'SHIFT_JIS_2004',
  'SQL_ASCII',
  'UHC',
  'UTF8',
  'WIN866',
  'WIN874',
  'WIN1250',
  'WIN1251',
  'WIN1252',
  'WIN1253',
  'WIN1254',
  'WIN1255',
  'WIN1256',
  'WIN1257',
  'WIN1258',
];
/** Two-byte characters whose second byte is `\` or `'` in some client encoding (BIG5/SJIS/GBK 0x5c, GBK 0x27). */
const TRAILING_ASCII = [
  Buffer.from([0xa4, 0x5c]),
  Buffer.from([0x95, 0x5c]),
  Buffer.from([0xbf, 0x27]),
  Buffer.from([0x81, 0x5c]),
  Buffer.from([0xe0, 0x5c]),
];

const TRANSACTION_CONTROL = /^\s*(BEGIN|START|COMMIT|ROLLBACK|END|ABORT|SAVEPOINT|RELEASE|PREPARE TRANSACTION)\b/i;

type Mutation = (sql: string, rnd: () => number) => string;

/** Applies `f` to the parts of `sql` outside quotes, dollar quotes and comments. */
function outsideQuotes(sql: string, f: (code: string) => string): string {
  return sql.replace(
    /('(?:[^']|'')*'|"(?:[^"]|"")*"|\$[a-z]*\$[^]*?\$[a-z]*\$|--[^\n]*|\/\*[^]*?\*\/)|([^'"$/-]+|[$/-])/g,
    (m, quoted: string | undefined) => (quoted !== undefined ? m : f(m)),
  );
}

const MUTATIONS: readonly [string, Mutation][] = [
  ['case', (sql, rnd) => outsideQuotes(sql, (code) => code.replace(/[a-z]/gi, (c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())))],
  ['quote-names', (sql) => outsideQuotes(sql, (code) => code.replace(/\b(records|other|secrets|pg_audit_log|secret_view)\b/g, '"$1"'))],
  [
    'comments',
    (sql, rnd) =>
      outsideQuotes(sql, (code) =>
        code.replace(
          / /g,
          () => [' ', ' /* c */ ', ' /* a /* nested */ b */ ', ' --c\n', '\t', '\n', '\r\n', '\f'][Math.floor(rnd() * 8)] ?? ' ',
        ),
      ),
  ],
  ['vertical-tab', (sql) => outsideQuotes(sql, (code) => code.replace(/ /, '\v'))],
  ['dollar-quotes', (sql) => sql.replace(/'([^'\\]*)'/g, (_m, body: string) => `$d$${body}$d$`)],
  ['escape-strings', (sql) => sql.replace(/'([^'\\]*)'/g, (_m, body: string) => `E'${body.replace(/a/g, '\\x61')}'`)],
  [
    'unicode-names',
    (sql) =>
      outsideQuotes(sql, (code) => code.replace(/\bsecrets\b/g, 'U&"secr\\0065ts"').replace(/\bother\b/g, 'U&"oth!0065r" UESCAPE \'!\'')),
  ],
  ['casts', (sql) => outsideQuotes(sql, (code) => code.replace(/\bid\b/g, 'id::int::int'))],
  ['numbers', (sql, rnd) => outsideQuotes(sql, (code) => code.replace(/\b1\b/g, () => String(Math.floor(rnd() * 1000))))],
  [
    'nesting',
    (sql, rnd) => {
      const depth = [5, 50, 500, 5000, 20000][Math.floor(rnd() * 5)] ?? 5;
      return outsideQuotes(sql, (code) => code.replace(/\(SELECT/, `${'('.repeat(depth)}(SELECT`).replace(/\)$/, `)${')'.repeat(depth)}`));
    },
  ],
  ['long', (sql, rnd) => `${sql} /* ${'x'.repeat(rnd() < 0.8 ? 20_000 : 1_100_000)} */`],
  ['semicolon-chain', (sql) => `SELECT 1; ${sql}; SELECT 2`],
];

/**
 * The oracle's corpus: the statement × scope table's statements, a grammar of templates over
 * tables, catalogs and expressions, each mutated (case, quoting, comments and nested comments,
 * whitespace the grammars disagree on, dollar quotes, E'' and U&'' forms with UESCAPE, casts,
 * operators, numbers, deep nesting, very long texts), plus sessions that try to change the
 * lexical state first (every client encoding, standard_conforming_strings off) and send bytes
 * that mean something else in another encoding.
 */
export function generateCorpus(size: number, seed = 12): OracleCase[] {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const cases: OracleCase[] = [];
  const add = (origin: string, ...messages: (string | Buffer)[]): void => {
    cases.push({ id: cases.length + 1, origin, messages: messages.map((m) => (typeof m === 'string' ? Buffer.from(m) : m)) });
  };
  // Transaction control would end the transaction the oracle observes in: it is judged by the scope tests instead.
  for (const [sql] of TABLE) if (!TRANSACTION_CONTROL.test(sql)) add('scope-cases', sql);
  nameResolutionCases(add);
  for (const encoding of CLIENT_ENCODINGS) {
    const trailing = pick(TRAILING_ASCII);
    add(
      `client_encoding ${encoding}`,
      `SET client_encoding = '${encoding}'`,
      Buffer.concat([Buffer.from("SELECT '"), trailing, Buffer.from("' , (SELECT count(*) FROM secrets) --'")]),
    );
    add(
      `SET NAMES ${encoding}`,
      `SET NAMES '${encoding}'`,
      Buffer.concat([Buffer.from("SELECT E'"), trailing, Buffer.from("' , (SELECT count(*) FROM secrets) --'")]),
    );
  }
  while (cases.length < size) {
    const template = pick(TEMPLATES);
    let sql = template(pick(TABLES), pick(TABLES), pick(EXPRESSIONS));
    const applied: string[] = [];
    const mutations = Math.floor(rnd() * 3);
    for (let i = 0; i < mutations; i++) {
      const [name, mutate] = pick(MUTATIONS);
      sql = mutate(sql, rnd);
      applied.push(name);
    }
    const origin = `template ${TEMPLATES.indexOf(template)}${applied.length > 0 ? ` + ${applied.join(', ')}` : ''}`;
    const r = rnd();
    if (r < 0.05) {
      add(
        `${origin} after standard_conforming_strings off`,
        pick([
          'SET standard_conforming_strings = off',
          "SELECT set_config('standard_conforming_strings', 'off', false)",
          'SET LOCAL standard_conforming_strings TO 0',
        ]),
        sql,
      );
    } else if (r < 0.08) {
      add(`${origin} after client_encoding ${pick(CLIENT_ENCODINGS)}`, `SET client_encoding = '${pick(CLIENT_ENCODINGS)}'`, sql);
    } else if (r < 0.1) {
      add(
        `${origin} with a foreign multibyte character`,
        Buffer.concat([Buffer.from(sql.replace(/'[^']*'$/, '')), pick(TRAILING_ASCII), Buffer.from("' --'")]),
      );
    } else add(origin, sql);
  }
  return cases.slice(0, size);
}
