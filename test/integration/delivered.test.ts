import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Bytes } from '../support/byte-builder.js';
import { sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { RawClient, type RawFrame } from '../support/raw-client.js';
import { seededPick } from '../support/seeded-random.js';

/** What the client itself received for one statement of the transcript, counted frame by frame. */
interface Received {
  returned: number;
  affected: number;
  bytes: number;
}

const OUTCOMES = new Set(['C', 'I', 's', 'E']);

/**
 * A client that speaks the protocol frame by frame and counts, as it reads them, what each
 * statement sent it: every byte since the previous statement's outcome up to its own, its DataRows,
 * and the numbers its command tags carry. `expectCopyRows` is the number of rows a COPY TO asked
 * for (its frames also carry a header or a trailer, which are not rows).
 */
class CountingClient {
  private bytes = 0;
  private rows = 0;
  private copyFrames = 0;
  readonly statements: Received[] = [];
  private current: Received | undefined;

  private constructor(private readonly raw: RawClient) {}

  static async login(h: Harness, role: string): Promise<CountingClient> {
    const raw = await RawClient.connect(h.port);
    await raw.startTls();
    const frames = await raw.login(await h.token({ groups: [], roles: [role] }), { user: 'tally', database: CONNECTION });
    assert.equal(frames.at(-1)?.code, 'Z', `logged in: ${frames.map((f) => `${f.code} ${f.body.toString('latin1')}`).join(' | ')}`);
    return new CountingClient(raw);
  }

  /** A statement of the transcript begins: what the outcomes until `end()` bring adds to it. */
  begin(): void {
    this.current = { returned: 0, affected: 0, bytes: 0 };
  }

  end(): void {
    assert.ok(this.current, 'a statement was begun');
    this.statements.push(this.current);
    this.current = undefined;
  }

  write(...frames: Buffer[]): void {
    this.raw.write(Buffer.concat(frames));
  }

  /** Reads frames up to ReadyForQuery, or up to a CopyInResponse (`stopAtCopyIn`). */
  async read(expectCopyRows = 0, stopAtCopyIn = false): Promise<RawFrame[]> {
    const frames: RawFrame[] = [];
    for (;;) {
      const f = await this.raw.readFrame();
      frames.push(f);
      this.count(f, expectCopyRows);
      if (f.code === 'Z' || (stopAtCopyIn && f.code === 'G')) return frames;
    }
  }

  /** One frame, counted (after a Flush, the server stops at an outcome rather than at ReadyForQuery). */
  async readOne(): Promise<RawFrame> {
    const f = await this.raw.readFrame();
    this.count(f, 0);
    return f;
  }

  async close(): Promise<void> {
    this.raw.write(new Bytes().frame('X'));
    await this.raw.waitClosed();
  }

  private count(f: RawFrame, expectCopyRows: number): void {
    this.bytes += 5 + f.body.length;
    if (f.code === 'D') this.rows += 1;
    if (f.code === 'd') this.copyFrames += 1;
    if (!OUTCOMES.has(f.code)) return;
    const s = this.current;
    assert.ok(s, `an outcome (${f.code}) outside any statement`);
    s.bytes += this.bytes;
    s.returned += this.rows + Math.min(expectCopyRows, this.copyFrames);
    if (f.code === 'C') s.affected += affectedBy(f.body.toString('utf8', 0, f.body.length - 1), this.rows, expectCopyRows);
    this.bytes = 0;
    this.rows = 0;
    this.copyFrames = 0;
  }
}

/** Rows a command tag says were written (the client's own rowCount for a write). */
function affectedBy(tag: string, rowsSeen: number, copyOutRows: number): number {
  const words = tag.split(' ');
  const n = Number(words.at(-1));
  if (['INSERT', 'UPDATE', 'DELETE', 'MERGE'].includes(words[0] ?? '')) return n;
  if (words[0] === 'COPY') return copyOutRows > 0 ? 0 : n;
  if (words[0] === 'SELECT' && rowsSeen === 0) return n;
  return 0;
}

const query = (sql: string): Buffer => new Bytes().cstring(sql).frame('Q');
const parse = (sql: string): Buffer => new Bytes().cstring('').cstring(sql).int16(0).frame('P');
const bind = (...values: string[]): Buffer => {
  const b = new Bytes().cstring('').cstring('').int16(0).int16(values.length);
  for (const v of values) b.int32(Buffer.byteLength(v)).raw(Buffer.from(v));
  return b.int16(0).frame('B');
};
const describePortal = (): Buffer => new Bytes().int8(0x50).cstring('').frame('D');
const execute = (maxRows = 0): Buffer => new Bytes().cstring('').int32(maxRows).frame('E');
const sync = (): Buffer => new Bytes().frame('S');

/** One random statement of the transcript (a Query, an extended-protocol Execute, or a cursor's steps), sent and counted. */
async function randomStatement(c: CountingClient, pick: (n: number) => number, i: number): Promise<void> {
  const n = pick(25);
  const width = 1 + pick(300);
  const select = `SELECT g, repeat('x', ${width}) FROM generate_series(1, ${n}) g`;
  const simple = async (sql: string, copyRows = 0): Promise<void> => {
    c.begin();
    c.write(query(sql));
    await c.read(copyRows);
    c.end();
  };
  switch (pick(15)) {
    case 0:
      return simple(select);
    case 1:
      return simple(`${select}; SELECT ${n}; INSERT INTO scratch (v) SELECT 'm' FROM generate_series(1, ${pick(4)})`);
    case 2:
      return simple(`INSERT INTO scratch (v) SELECT repeat('y', ${width}) FROM generate_series(1, ${n})`);
    case 3:
      return simple(`INSERT INTO scratch (v) SELECT 'r' FROM generate_series(1, ${n}) RETURNING id, v`);
    case 4:
      return simple(`UPDATE scratch SET v = 'u${i}' WHERE id % ${2 + pick(9)} = 0`);
    case 5:
      return simple(`DELETE FROM scratch WHERE id % ${2 + pick(4)} = 0`);
    case 6:
      // Rows, then an error in the middle of the result: what was sent before it counts.
      return simple(`SELECT g, 1 / (g - ${1 + pick(5)}) FROM generate_series(1, 8) g`);
    case 7:
      return simple(pick(2) === 0 ? '' : 'SELECT FROM nowhere_at_all');
    case 8: {
      const format = ['', ' WITH (FORMAT csv, HEADER)', ' WITH (FORMAT binary)'][pick(3)] ?? '';
      return simple(`COPY (${select}) TO STDOUT${format}`, n);
    }
    case 9: {
      c.begin();
      c.write(query('COPY scratch (v) FROM STDIN'));
      await c.read(0, true);
      const lines = Array.from({ length: n }, (_, k) => new Bytes().raw(Buffer.from(`copied ${k}\n`)).frame('d'));
      c.write(...lines, new Bytes().frame('c'));
      await c.read();
      c.end();
      return;
    }
    case 10: {
      // A cursor: every step is a statement of its own.
      await simple('BEGIN');
      await simple(`DECLARE cur NO SCROLL CURSOR FOR ${select}`);
      await simple(`FETCH ${1 + pick(10)} FROM cur`);
      await simple(`MOVE ${pick(5)} IN cur`);
      await simple(`FETCH ALL FROM cur`);
      await simple('CLOSE cur');
      return simple('COMMIT');
    }
    case 11: {
      c.begin();
      c.write(parse(`SELECT g, repeat('z', $2::int) FROM generate_series(1, $1::int) g`), bind(String(n), String(width)), describePortal());
      c.write(execute(), sync());
      await c.read();
      c.end();
      return;
    }
    case 12: {
      // A portal run a few rows at a time: each Execute is a statement, up to the one that completes it.
      const page = 1 + pick(6);
      c.write(parse(select), bind());
      let suspended = true;
      while (suspended) {
        c.begin();
        c.write(execute(page), new Bytes().frame('H'));
        let f: RawFrame;
        do f = await c.readOne();
        while (!OUTCOMES.has(f.code));
        suspended = f.code === 's';
        c.end();
      }
      c.write(sync());
      await c.read();
      return;
    }
    case 13:
      // CREATE TABLE AS: its tag counts rows written, none sent.
      return simple(`CREATE TEMP TABLE made_${i} AS ${select}`);
    default: {
      c.begin();
      c.write(parse('INSERT INTO scratch (v) VALUES ($1) RETURNING id'), bind(`extended ${i}`), execute(), sync());
      await c.read();
      c.end();
      return;
    }
  }
}

describe('what left the database, per statement', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      identityMap: [
        { name: 'tallied', 'entra-app-role': 'Tally.All', connection: CONNECTION, scope: 'all', record: true },
        {
          name: 'tallied-capped',
          'entra-app-role': 'Tally.Capped',
          connection: CONNECTION,
          scope: 'all',
          record: true,
          limits: { 'max-rows': 7 },
        },
      ],
    });
    await h.cluster.sql(
      'CREATE TABLE scratch (id serial PRIMARY KEY, v text); GRANT ALL ON scratch, scratch_id_seq TO sync_writer',
      'records',
    );
  });
  after(async () => {
    await h.stop();
  });

  for (const [role, entry, count, seed] of [
    ['Tally.All', 'tallied', 1000, 20261207],
    ['Tally.Capped', 'tallied-capped', 200, 7],
  ] as const) {
    it(
      `${entry}: rows and bytes of ${count} random statements match what the client received (seed ${seed})`,
      { timeout: 120_000 },
      async () => {
        const before = await h.gateway.services.metrics.text();
        const c = await CountingClient.login(h, role);
        const pick = seededPick(seed);
        for (let i = 0; c.statements.length < count; i++) await randomStatement(c, pick, i);
        await c.close();
        await settleAudit(h);
        const [session] = (await sessionsJson(h, { connection: CONNECTION }))
          .filter((s) => String(s['mapping']).startsWith(`${entry} (`))
          .slice(-1);
        assert.ok(session, `the session is listed: ${JSON.stringify((await sessionsJson(h)).map((s) => s['mapping']))}`);
        const recorded = (await showJson(h, String(session['id']))).filter((l) => l['type'] === 'statement');
        assert.equal(recorded.length, c.statements.length, 'one recorded statement per statement sent');
        recorded.forEach((r, k) => assert.deepEqual(r['delivered'], c.statements[k], `statement #${k + 1}: ${String(r['sql'])}`));
        const sum = (f: keyof Received): number => c.statements.reduce((t, s) => t + s[f], 0);
        assert.equal(session['rowsReturned'], sum('returned'));
        assert.equal(session['rowsAffected'], sum('affected'));
        assert.ok(Number(session['bytesToClient']) >= sum('bytes'));
        const after = await h.gateway.services.metrics.text();
        const metric = (text: string, name: string): number =>
          Number(new RegExp(`^${name}\\{[^}]*entry="${entry}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
        assert.equal(metric(after, 'idgate_rows_returned_total') - metric(before, 'idgate_rows_returned_total'), sum('returned'));
        assert.equal(metric(after, 'idgate_rows_affected_total') - metric(before, 'idgate_rows_affected_total'), sum('affected'));
      },
    );
  }

  it('shows the figures in show, sessions and usage', async () => {
    const c = await CountingClient.login(h, 'Tally.All');
    c.begin();
    c.write(query('SELECT g FROM generate_series(1, 3) g'));
    await c.read();
    c.end();
    c.begin();
    c.write(query(`INSERT INTO scratch (v) VALUES ('a'), ('b')`));
    await c.read();
    c.end();
    await c.close();
    await settleAudit(h);
    const [session] = (await sessionsJson(h, { connection: CONNECTION }))
      .filter((s) => String(s['mapping']).startsWith('tallied ('))
      .slice(-1);
    const id = String(session?.['id']);
    const show = await idgate(['show', id, '--db', h.config.recordingsPath]);
    assert.match(show.stdout, new RegExp(`→ SELECT 3 \\([^)]*\\) · sent 3 rows, ${c.statements[0]?.bytes} bytes\\n`));
    assert.match(show.stdout, /→ INSERT 0 2 \([^)]*\) · sent 0 rows, \d+ bytes, wrote 2 rows\n/);
    assert.match(show.stdout, /rows 3 sent \/ 2 written/);
    const listed = await idgate(['sessions', '--db', h.config.recordingsPath, '--connection', CONNECTION]);
    assert.match(listed.stdout, /rows sent +rows written +bytes sent/);
    const usage = await idgate(['usage', '--json', '--db', h.config.recordingsPath, '--config', h.writeConfigFile().file]);
    const tallied = usage.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((u) => u['appId'] === (session?.['identity'] as Record<string, unknown> | undefined)?.['appId']);
    // This agent (its own app id) ran only this session: usage sums exactly its figures.
    assert.deepEqual(
      [tallied?.['sessions'], tallied?.['rowsSent'], tallied?.['rowsWritten'], tallied?.['bytesSent']],
      [1, 3, 2, session?.['bytesToClient']],
    );
    // A SIEM gets them too: the session's totals, and each outcome's tally beside it.
    const exported = await idgate(['export', '--db', h.config.recordingsPath]);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const header = lines.find((l) => l['type'] === 'session' && l['id'] === id);
    assert.deepEqual([header?.['rowsReturned'], header?.['rowsAffected']], [3, 2]);
    assert.match(
      exported.stdout,
      /"kind":"CommandComplete","tag":"INSERT 0 2","rows":2,"delivered":\{"returned":0,"affected":2,"bytes":\d+\}/,
    );
  });

  it('seals the session’s figures: changing or removing them makes verify fail', async () => {
    const db = h.config.recordingsPath;
    assert.equal((await idgate(['verify', '--db', db])).code, 0);
    const [session] = (await sessionsJson(h, { connection: CONNECTION })).filter((s) => String(s['mapping']).startsWith('tallied ('));
    const id = String(session?.['id']);
    for (const edit of [
      'rows_returned = rows_returned - 1',
      'rows_affected = rows_affected + 5',
      'rows_returned = NULL, rows_affected = NULL',
    ]) {
      const sqlite = new Database(db);
      const original = sqlite.prepare('SELECT rows_returned, rows_affected FROM sessions WHERE id = ?').get(id) as Record<string, number>;
      assert.equal(sqlite.prepare(`UPDATE sessions SET ${edit} WHERE id = ?`).run(id).changes, 1);
      sqlite.close();
      const forged = await idgate(['verify', '--db', db]);
      assert.equal(forged.code, 1, `${edit}: ${forged.stdout}`);
      assert.match(forged.stdout, /TAMPERED/);
      const restore = new Database(db);
      restore
        .prepare('UPDATE sessions SET rows_returned = @rows_returned, rows_affected = @rows_affected WHERE id = @id')
        .run({ ...original, id });
      restore.close();
    }
    assert.equal((await idgate(['verify', '--db', db])).code, 0);
  });
});
