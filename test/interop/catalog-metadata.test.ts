import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { CATALOGUES } from '../../protocols/postgres/policy/builtins/builtins-of.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { postgresBinariesOf, SERVER_MAJORS } from '../support/postgres-versions.js';
import { javaArgs } from '../support/java-program.js';
import { repoPath } from '../support/repo-root.js';

const run = promisify(execFile);

async function psql(conninfo: string, command: string, password: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', conninfo, '-c', command], { env: { ...process.env, PGPASSWORD: password } }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({ stdout: e.stdout, stderr: e.stderr, code: e.code }),
  );
}
const ROLE = 'Metadata.ReadRecords';
const PSYCOPG_SCRIPT = repoPath('test/interop/psycopg_metadata.py');
const JDBC_PROGRAM = repoPath('test/interop/JdbcMetadata.java');

/** psql's describe commands a newcomer types first; each must answer under read:records as it does straight to the server. */
const DESCRIBE = ['\\d records', '\\dt', '\\di', '\\dv', '\\df', '\\dn', '\\l', '\\du', '\\d+ records'];

/** Catalog queries for metadata: an information_schema read, the SQL of pgJDBC's getTables and getColumns, psycopg's TypeInfo query. */
const DRIVER_QUERIES = [
  `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'records' ORDER BY ordinal_position`,
  `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,
     CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema' WHEN true THEN 'SYSTEM TABLE' ELSE 'TABLE' END AS TABLE_TYPE,
     d.description AS REMARKS
   FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c
   LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass)
   WHERE c.relnamespace = n.oid AND c.relname LIKE 'records' ORDER BY TABLE_TYPE, TABLE_SCHEM, TABLE_NAME`,
  `SELECT * FROM (SELECT n.nspname, c.relname, a.attname, a.atttypid, a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,
     a.atttypmod, a.attlen, t.typtypmod, row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum,
     nullif(a.attidentity, '') AS attidentity, nullif(a.attgenerated, '') AS attgenerated,
     pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc, dsc.description, t.typbasetype, t.typtype
   FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)
   JOIN pg_catalog.pg_attribute a ON (a.attrelid = c.oid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)
   LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid = def.adrelid AND a.attnum = def.adnum)
   LEFT JOIN pg_catalog.pg_description dsc ON (c.oid = dsc.objoid AND a.attnum = dsc.objsubid)
   LEFT JOIN pg_catalog.pg_class dc ON (dc.oid = dsc.classoid AND dc.relname = 'pg_class')
   LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace = dn.oid AND dn.nspname = 'pg_catalog')
   WHERE c.relkind IN ('r', 'p', 'v', 'f', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND c.relname LIKE 'records') c
   WHERE true ORDER BY nspname, c.relname, attnum`,
  `SELECT typname AS name, oid, typarray AS array_oid, oid::regtype::text AS regtype, typdelim AS delimiter
   FROM pg_type t WHERE t.oid = to_regtype('int4') ORDER BY t.oid`,
];

for (const major of SERVER_MAJORS) {
  describe(`catalog metadata under read:records, PostgreSQL ${major}`, () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({
        cluster: { binDir: postgresBinariesOf(major) },
        identityMap: [{ 'entra-app-role': ROLE, connection: CONNECTION, scope: 'read:records' }],
      });
    });
    after(async () => {
      await h?.stop();
    });

    it('has built-in lists that match this server (scripts/generate-builtins.ts is up to date)', async () => {
      const catalogue = CATALOGUES.find((c) => c.major === major);
      assert.ok(catalogue, `no built-in list for ${major}`);
      const live = await h.cluster.sql(
        `SELECT proname || ':' || string_agg(DISTINCT provolatile::text, '' ORDER BY provolatile::text) FROM pg_proc
         WHERE pronamespace = 'pg_catalog'::regnamespace GROUP BY proname ORDER BY proname COLLATE "C"`,
      );
      assert.deepEqual(
        live.split('\n'),
        catalogue.functions.split(/\s+/).filter((w) => w !== ''),
      );
      const relations = await h.cluster.sql(
        `SELECT relname FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace AND relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY relname COLLATE "C"`,
      );
      assert.deepEqual(
        relations.split('\n'),
        catalogue.catalogRelations.split(/\s+/).filter((w) => w !== ''),
      );
    });

    it(`answers psql's ${DESCRIBE.join(' ')} as the server does`, async () => {
      const token = await h.token({ groups: [], roles: [ROLE] });
      const direct = `host=${h.cluster.host} port=${h.cluster.port} dbname=records user=${h.cluster.superuser} sslmode=disable`;
      let compared = 0;
      for (const command of DESCRIBE) {
        const straight = await psql(direct, command, h.cluster.superuserPassword);
        const through = await psql(h.conninfo(), command, token);
        assert.doesNotMatch(through.stderr, /not allowed|not supported/, `${command}: ${through.stderr}`);
        if (straight.code !== 0) {
          // The machine's psql (15) is older than this server: a describe query it sends may not fit a newer catalog. Same error both ways.
          assert.equal(through.stderr, straight.stderr, command);
          continue;
        }
        compared += 1;
        assert.equal(through.code, 0, `${command}: ${through.stderr}`);
        assert.equal(through.stdout, straight.stdout, command);
        if (command.includes('records') || command === '\\dt') assert.match(through.stdout, /records/, command);
      }
      assert.ok(compared >= DESCRIBE.length - 1, `only ${compared} of ${DESCRIBE.length} commands could be compared`);
    });

    it('answers information_schema reads and the SQL pgJDBC sends for getTables and getColumns (sent through node-postgres)', async () => {
      const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [ROLE] })));
      await client.connect();
      try {
        for (const sql of DRIVER_QUERIES) {
          const result = await client.query(sql);
          assert.ok(result.rows.length > 0, sql);
        }
      } finally {
        await client.end();
      }
    });

    it('answers psycopg 3’s own catalog lookups (TypeInfo, CompositeInfo), run by psycopg itself', async () => {
      // Debian's psycopg is importable by the system python, not by a pyenv python earlier on PATH.
      const { stdout } = await run('/usr/bin/python3', [PSYCOPG_SCRIPT, h.conninfo(), await h.token({ groups: [], roles: [ROLE] })]);
      assert.deepEqual(JSON.parse(stdout), { int4: 23, records: ['id', 'title', 'body'] });
    });

    it('answers pgJDBC’s own getTables, getColumns, getPrimaryKeys, getIndexInfo, getSchemas and getTypeInfo, run by pgJDBC itself', async () => {
      const appId = '5e1f0c2a-7b7d-4c55-9a51-0d1b2c3d4e5f';
      const token = await h.token({ groups: [], roles: [ROLE], azp: appId });
      const { stdout } = await run('java', await javaArgs(JDBC_PROGRAM, ['127.0.0.1', String(h.port), CONNECTION, 'test-agent', token]));
      const { applicationName, ...metadata } = JSON.parse(stdout) as { applicationName?: string };
      // pgJDBC's own SET application_name after login went upstream with the agent's name kept first.
      assert.equal(applicationName, `${appId} | PostgreSQL JDBC Driver`, stdout);
      assert.deepEqual(metadata, {
        tables: ['records'],
        columns: ['id', 'title', 'body'],
        primaryKeys: ['id'],
        indexes: ['records_pkey'],
        schemas: true,
        typeInfo: true,
      });
      await h.assertNoLeaks();
    });
  });
}
