import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { CONNECTION, Harness } from '../support/harness.js';

describe('postgres.js through the gateway', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h.stop();
  });

  async function connect(token?: string, options: postgres.Options<Record<string, never>> = {}): Promise<postgres.Sql> {
    return postgres({
      host: '127.0.0.1',
      port: h.port,
      database: CONNECTION,
      username: 'postgresjs-agent',
      password: token ?? (await h.token()),
      ssl: { rejectUnauthorized: false },
      max: 1,
      connect_timeout: 10,
      onnotice: () => undefined,
      ...options,
    });
  }

  it('logs in and runs prepared, parameterised queries', async () => {
    const sql = await connect();
    const [who] = await sql`SELECT current_user AS who`;
    assert.equal(who?.['who'], 'sync_writer');
    for (let i = 1; i <= 3; i++) {
      const [row] = await sql`SELECT title FROM records WHERE id = ${i}`;
      assert.equal(row?.['title'], `record ${i}`);
    }
    const [simple] = await sql.unsafe('SELECT 1 AS one; SELECT 2 AS two', [], { prepare: false }).simple();
    assert.ok(simple);
    await sql.end();
  });

  it('pipelines many queries on one connection and gets each answer in order', async () => {
    const sql = await connect();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => sql`SELECT ${i}::int AS n, pg_backend_pid() AS pid`));
    assert.deepEqual(
      results.map((r) => r[0]?.['n']),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(new Set(results.map((r) => r[0]?.['pid'])).size, 1, 'one upstream connection');
    await sql.end();
  });

  it('pipelines a failing statement between good ones', async () => {
    const sql = await connect();
    const outcomes = await Promise.allSettled([sql`SELECT 1 AS n`, sql`SELECT * FROM no_such_table`, sql`SELECT 3 AS n`]);
    assert.equal(outcomes[0]?.status, 'fulfilled');
    assert.equal(outcomes[1]?.status, 'rejected');
    assert.equal(outcomes[1].reason.code, '42P01');
    assert.equal(outcomes[2]?.status, 'fulfilled');
    await sql.end();
  });

  it('copies in and out', async () => {
    const sql = await connect();
    await sql`CREATE TEMP TABLE pjs_copy (n int)`;
    const input = Array.from({ length: 2000 }, (_, i) => `${i}\n`).join('');
    await pipeline(Readable.from([input]), await sql`COPY pjs_copy FROM STDIN`.writable());
    let output = '';
    await pipeline(
      await sql`COPY (SELECT n FROM pjs_copy ORDER BY n) TO STDOUT`.readable(),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          output += chunk.toString();
          done();
        },
      }),
    );
    assert.equal(output, input);
    await sql.end();
  });

  it('cancels a running query', async () => {
    const sql = await connect();
    const query = sql`SELECT pg_sleep(30)`;
    const outcome = assert.rejects(query.then(), (e: { code?: string }) => e.code === '57014');
    await new Promise((r) => setTimeout(r, 300));
    query.cancel();
    await outcome;
    const [row] = await sql`SELECT 1 AS one`;
    assert.equal(row?.['one'], 1);
    await sql.end();
  });

  it('gets 28P01 for an expired token and 28000 for an unmapped one', async () => {
    for (const [token, code] of [
      [await h.token({}, { expiresIn: -60 }), '28P01'],
      [await h.token({ groups: [] }), '28000'],
    ] as const) {
      const sql = await connect(token);
      await assert.rejects(sql`SELECT 1`, (e: { code?: string }) => e.code === code);
      await sql.end();
    }
    await h.assertNoLeaks();
  });
});
