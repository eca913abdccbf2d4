import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import postgres from 'postgres';
import { sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { Bytes } from '../support/byte-builder.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness, recordsConnection } from '../support/harness.js';
import { errorOf, RawClient } from '../support/raw-client.js';
import { expectedSqlstate, TABLE } from '../support/scope-cases.js';

const SCOPES = [...new Set(TABLE.map(([, scope]) => scope))];
const roleFor = (scope: string): string => `Scope.${scope.replace(/[^a-z]/gi, '_')}`;

describe('scopes enforced by the gateway on every statement', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      connections: (cluster) => [recordsConnection(cluster, 'records-app', { 'search-path': 'app' })],
      identityMap: [
        ...SCOPES.map((scope) => ({ 'entra-app-role': roleFor(scope), connection: CONNECTION, scope })),
        { 'entra-app-role': 'Scope.App', connection: 'records-app', scope: 'write:records' },
      ],
    });
    await h.cluster.sql(
      'CREATE TABLE other (id int, x int); CREATE TABLE secrets (id int, name text); GRANT ALL ON other, secrets TO sync_writer',
      'records',
    );
    await h.cluster.sql(
      'CREATE SCHEMA app; CREATE TABLE app.records (id int, title text); GRANT USAGE ON SCHEMA app TO sync_writer; GRANT ALL ON app.records TO sync_writer',
      'records',
    );
  });
  after(async () => {
    await h.stop();
  });

  async function clientFor(scope: string, claims: Record<string, unknown> = {}): Promise<pg.Client> {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [roleFor(scope)], ...claims })));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  for (const mode of ['simple', 'extended'] as const) {
    it(`gives each of ${TABLE.length} statements its verdict over the ${mode} protocol, and the session carries on`, async () => {
      for (const scope of SCOPES) {
        const client = await clientFor(scope);
        try {
          for (const [sql, caseScope, expected] of TABLE) {
            if (caseScope !== scope) continue;
            // node-postgres runs COPY … STDIN/STDOUT only over the simple protocol (copy streams).
            if (mode === 'extended' && /^COPY .*(STDIN|STDOUT)/i.test(sql) && expected === true) continue;
            await client.query('BEGIN');
            const error = await Promise.race([
              client.query(mode === 'simple' ? sql : ({ text: sql, queryMode: 'extended' } as pg.QueryConfig)).then(
                () => undefined,
                (e: { code?: string; message: string }) => e,
              ),
              new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${sql} under ${scope} (${mode})`)), 5000)),
            ]);
            await client.query('ROLLBACK').catch(() => undefined);
            // Postgres's own grants may still refuse (42501 "must be owner…"): only the gateway's denials say "scope".
            if (expected === true) {
              assert.ok(
                !/(not allowed|not supported) under|by scope/.test(error?.message ?? ''),
                `${sql} under ${scope} was denied: ${error?.message}`,
              );
            } else {
              assert.equal(error?.code, expectedSqlstate(expected), `${sql} under ${scope}: ${error?.message ?? 'allowed'}`);
              assert.match(error.message, expected);
            }
          }
          assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
        } finally {
          await client.end();
        }
      }
      await h.assertNoLeaks();
    });
  }

  it('denies in a transaction the way Postgres errors: the transaction is aborted, then usable after ROLLBACK', async () => {
    const client = await clientFor('write:records');
    await client.query('BEGIN');
    await client.query("INSERT INTO records (title) VALUES ('in tx')");
    await assert.rejects(client.query('SELECT * FROM records'), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(client.query("INSERT INTO records (title) VALUES ('after')"), (e: { code?: string }) => e.code === '25P02');
    await client.query('ROLLBACK');
    await client.query("DELETE FROM records WHERE title = 'never'");
    await client.end();
  });

  it('runs nothing of a multi-statement Query with a denied statement in it', async () => {
    const client = await clientFor('write:records');
    await assert.rejects(
      client.query("INSERT INTO records (title) VALUES ('multi-denied'); DELETE FROM other"),
      (e: { code?: string }) => e.code === '42501',
    );
    assert.equal(await h.cluster.sql("SELECT count(*) FROM records WHERE title = 'multi-denied'", 'records'), '0');
    await client.end();
  });

  it('answers node-postgres queries queued back to back around a denied one, in order', async () => {
    const client = await clientFor('write:records');
    const outcomes = await Promise.allSettled([
      client.query('DELETE FROM records WHERE id = $1', [-1]),
      client.query('SELECT * FROM records WHERE id = $1', [1]),
      client.query("UPDATE records SET title = 'x' WHERE id = -2"),
      client.query('SELECT * FROM secrets'),
      client.query('DELETE FROM records WHERE id = -3'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as { code?: string }).code, '42501');
    await client.end();
  });

  it('keeps a postgres.js pipeline in step around a denied statement', async () => {
    const sql = postgres({
      host: '127.0.0.1',
      port: h.port,
      database: CONNECTION,
      username: 'pjs',
      password: await h.token({ groups: [], roles: [roleFor('write:records')] }),
      ssl: { rejectUnauthorized: false },
      max: 1,
      onnotice: () => undefined,
    });
    const outcomes = await Promise.allSettled([
      sql`DELETE FROM records WHERE id = ${-1}`,
      sql`SELECT * FROM records WHERE id = ${1}`,
      sql`UPDATE records SET title = ${'x'} WHERE id = ${-2}`,
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, '42501');
    assert.match((outcomes[1] as PromiseRejectedResult).reason.message, /reading public\.records is not allowed by scope "write:records"/);
    const [row] = await sql`SELECT 1 AS one`;
    assert.equal(row?.['one'], 1);
    await sql.end();
  });

  it('answers a pipelined extended batch with a denied Parse exactly as Postgres answers an error there', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token({ groups: [], roles: [roleFor('write:records')] }), { user: 'raw', database: CONNECTION });
    const batch = (sql: string): Buffer =>
      Buffer.concat([
        new Bytes().cstring('').cstring(sql).int16(0).frame('P'),
        new Bytes().cstring('').cstring('').int16(0).int16(0).int16(0).frame('B'),
        new Bytes().cstring('').int32(0).frame('E'),
        new Bytes().frame('S'),
      ]);
    c.write(
      Buffer.concat([
        batch('DELETE FROM records WHERE id = -1'),
        batch('SELECT * FROM records'),
        batch('DELETE FROM records WHERE id = -2'),
      ]),
    );
    const frames = [...(await c.untilReady()), ...(await c.untilReady()), ...(await c.untilReady())];
    assert.deepEqual(
      frames.map((f) => f.code),
      ['1', '2', 'C', 'Z', 'E', 'Z', '1', '2', 'C', 'Z'],
    );
    const error = frames.find((f) => f.code === 'E');
    assert.equal(error && errorOf(error).code, '42501');
    c.close();
  });

  it('denies a fast-path FunctionCall, which names a function past any SQL', async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token({ groups: [], roles: [roleFor('read')] }), { user: 'raw', database: CONNECTION });
    const oid = Number(await h.cluster.sql("SELECT 'pg_backend_pid()'::regprocedure::oid"));
    c.write(new Bytes().int32(oid).int16(0).int16(0).int16(0).frame('F'));
    const frames = await c.untilReady();
    assert.deepEqual(
      frames.map((f) => f.code),
      ['E', 'Z'],
    );
    assert.equal(errorOf(frames[0] ?? { code: '', body: Buffer.alloc(0) }).code, '42501');
    assert.match(errorOf(frames[0] ?? { code: '', body: Buffer.alloc(0) }).message, /FunctionCall is not allowed by scope "read"/);
    c.write(new Bytes().cstring('SELECT 1').frame('Q'));
    assert.deepEqual(
      (await c.untilReady()).map((f) => f.code),
      ['T', 'D', 'C', 'Z'],
    );
    c.close();
  });

  it('takes unqualified tables to be in the connection’s search-path, upstream and in the scope alike', async () => {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: ['Scope.App'] }), { database: 'records-app' }));
    await client.connect();
    assert.equal((await client.query('SHOW search_path')).rows[0].search_path, 'app');
    await client.query("INSERT INTO records (id, title) VALUES (1, 'in app')");
    assert.equal(await h.cluster.sql("SELECT count(*) FROM app.records WHERE title = 'in app'", 'records'), '1');
    await assert.rejects(
      client.query("INSERT INTO public.records (title) VALUES ('x')"),
      (e: { code?: string; message: string }) => e.code === '42501' && /writing public\.records/.test(e.message),
    );
    await assert.rejects(client.query('SET search_path = public'), (e: { code?: string }) => e.code === '42501');
    await client.end();
    const c = await RawClient.connect(h.port);
    await c.startTls();
    const refused = await c.login(await h.token({ groups: [], roles: ['Scope.App'] }), {
      user: 'raw',
      database: 'records-app',
      options: '-c search_path=public',
    });
    assert.equal(errorOf(refused.at(-1) ?? { code: '', body: Buffer.alloc(0) }).code, '42501', 'a client cannot bring its own search_path');
    c.close();
  });

  it('runs read-only scopes read-only upstream, and a session cannot switch that off', async () => {
    const client = await clientFor('read');
    assert.equal((await client.query("SELECT current_setting('default_transaction_read_only') AS v")).rows[0].v, 'on');
    await assert.rejects(client.query('SET default_transaction_read_only = off'), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(client.query('BEGIN READ WRITE'), (e: { code?: string }) => e.code === '42501');
    await client.end();
  });

  it('records every denial with the statement and the reason', async () => {
    const appId = crypto.randomUUID();
    const client = await clientFor('write:records', { azp: appId });
    await client.query('SELECT * FROM secrets').catch(() => undefined);
    await client.query({ text: 'SELECT name FROM secrets WHERE id = $1', values: [1] }).catch(() => undefined);
    await client.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const statements = (await showJson(h, String(session?.['id']))).filter((l) => l['type'] === 'statement');
    assert.deepEqual(
      statements.map((s) => s['sql']),
      ['SELECT * FROM secrets', 'SELECT name FROM secrets WHERE id = $1'],
    );
    for (const s of statements) {
      const outcome = s['outcome'] as { status: string; sqlstate?: string; message?: string };
      assert.equal(outcome.sqlstate, '42501');
      assert.match(outcome.message ?? '', /reading public\.secrets is not allowed by scope "write:records"/);
    }
    // Replayed, the denied statements are denied again (they were recorded as the placeholder sent upstream).
    const { idgate } = await import('../support/cli.js');
    const target = `postgres://sync_writer:${encodeURIComponent(h.passwords['sync_writer'] ?? '')}@127.0.0.1:${h.cluster.port}/records?sslmode=disable`;
    const replay = await idgate([
      'replay',
      String(session?.['id']),
      '--execute',
      '--target',
      target,
      '--yes-i-mean-it',
      '--no-wait',
      '--db',
      h.config.recordingsPath,
    ]);
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    assert.match(replay.stdout, /2 of 2 statements replayed with the same outcome/);
  });
});
