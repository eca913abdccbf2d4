import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Bytes } from '../support/byte-builder.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { errorOf, RawClient, type RawFrame } from '../support/raw-client.js';
import { seededPick } from '../support/seeded-random.js';

const ADMIN_TOKEN = 'approval-pins-admin-token-0123456789';
const DELETES_APPROVED = 'Records.DeletesApproved';
const PIN_HUNTER = 'Pins.Hunter';
const INT8 = 20;
const FLOAT8 = 701;
/** 10^18 as a bigint's eight bytes: no id is above it; read as a double precision, about 1.6e-242, every id is. */
const BIG = Buffer.from('0de0b6b3a7640000', 'hex');
type PgError = Error & { code?: string };

const parse = (sql: string, types: readonly number[]): Buffer => {
  const b = new Bytes().cstring('').cstring(sql).int16(types.length);
  for (const t of types) b.int32(t);
  return b.frame('P');
};
const bindBinary = (value: Buffer): Buffer =>
  new Bytes().cstring('').cstring('').int16(1).int16(1).int16(1).int32(value.length).raw(value).int16(0).frame('B');
const execute = (): Buffer => new Bytes().cstring('').int32(0).frame('E');
const sync = (): Buffer => new Bytes().frame('S');

/** The request id an IGA01 names. */
function requestId(code: string | undefined, message: string): string {
  assert.equal(code, 'IGA01', message);
  const id = /request ([0-9a-f]{12})/.exec(message)?.[1];
  assert.ok(id !== undefined, message);
  return id;
}

/**
 * What an approval admits besides the text: the same text can delete other rows when its values
 * are read under other types, or when the session reads the text differently (transform_null_equals,
 * DateStyle, a setting a row security policy reads). Each case is tried from outside, and the
 * database is asked what ran.
 */
describe('what an approval pins besides the text', () => {
  let h: Harness;
  /** One agent's token for every session: an approval is pinned to the identity. */
  let token: string;
  const admin = async (path: string, body?: unknown): Promise<Response> =>
    fetch(`http://127.0.0.1:${h.gateway.admin?.port ?? 0}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const approve = async (id: string): Promise<void> => {
    const r = await admin(`/approvals/${id}/approve`, { reason: 'checked', by: 'dba-alice' });
    assert.equal(r.status, 200, await r.text());
  };
  const request = async (id: string): Promise<Record<string, unknown>> => {
    const { approvals } = (await (await admin('/approvals')).json()) as { approvals: Record<string, unknown>[] };
    const found = approvals.find((a) => a['id'] === id);
    assert.ok(found !== undefined, `request ${id} listed`);
    return found;
  };
  const rows = async (): Promise<number> => Number((await h.cluster.sql('SELECT count(*) FROM records', 'records')).trim());
  const agent = async (options?: string): Promise<pg.Client> => {
    const c = new pg.Client({ ...pgOptions(h, token), ...(options ? { options } : {}) });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const refused = (c: pg.Client, sql: string): Promise<PgError> =>
    c.query(sql).then(
      () => assert.fail(`${sql} ran`),
      (e: unknown) => e as PgError,
    );
  /** A Parse naming `types`, a Bind of `value` in binary, Execute, Sync: the error or the command tag. */
  const bound = async (client: RawClient, sql: string, types: readonly number[], value: Buffer): Promise<RawFrame> => {
    client.write(Buffer.concat([parse(sql, types), bindBinary(value), execute(), sync()]));
    const frames = await client.untilReady();
    const outcome = frames.find((f) => f.code === 'E' || f.code === 'C');
    assert.ok(outcome !== undefined, frames.map((f) => f.code).join(''));
    return outcome;
  };

  before(async () => {
    h = await Harness.start({
      admin: { host: '127.0.0.1', port: 0, 'token-env': 'IDGATE_ADMIN_TOKEN' },
      env: { IDGATE_ADMIN_TOKEN: ADMIN_TOKEN },
      approvals: { preview: true },
      identityMap: [
        { 'entra-app-role': DELETES_APPROVED, connection: CONNECTION, scope: 'read write:records approve:delete' },
        { 'entra-app-role': PIN_HUNTER, connection: CONNECTION, scope: 'read write:pins approve:update:pins' },
      ],
    });
    token = await h.token({ groups: [], roles: [DELETES_APPROVED] });
  });
  after(async () => {
    await h.stop();
  });

  it('pins the types a Parse named: the approved bytes read as another type are another statement', async () => {
    const client = await RawClient.connect(h.port);
    await client.startTls();
    const login = await client.login(token, { user: 'agent', database: CONNECTION });
    assert.equal(login.at(-1)?.code, 'Z', login.at(-1)?.code === 'E' ? errorOf(login.at(-1) as RawFrame).message : '');
    const sql = 'DELETE FROM records WHERE id > $1';
    const before = await rows();
    const asBigint = errorOf(await bound(client, sql, [INT8], BIG));
    const id = requestId(asBigint.code, asBigint.message);
    // The approver sees the type with the value, and a dry run of exactly that: nothing would go.
    const shown = await request(id);
    assert.deepEqual(JSON.parse(String(shown['params'])), { types: [INT8], values: [{ base64: BIG.toString('base64') }] });
    for (let i = 0; i < 100 && (await request(id))['preview'] === null; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await request(id))['preview'], { rows: 0 });
    await approve(id);

    // The same text and the same eight bytes, the Parse naming double precision: not what was approved.
    const asDouble = errorOf(await bound(client, sql, [FLOAT8], BIG));
    assert.notEqual(requestId(asDouble.code, asDouble.message), id, 'a request of its own');
    assert.equal(await rows(), before, 'nothing was deleted');
    // Its own request shows the approver what it would do.
    const other = requestId(asDouble.code, asDouble.message);
    for (let i = 0; i < 100 && (await request(other))['preview'] === null; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await request(other))['preview'], { rows: before });

    // What was approved runs, once.
    const ran = await bound(client, sql, [INT8], BIG);
    assert.equal(ran.code, 'C', errorOf(ran).message);
    assert.equal(ran.body.toString('utf8', 0, ran.body.length - 1), 'DELETE 0');
    client.close();
  });

  it('takes no approval in a session that changed how it reads statements after login', async () => {
    // `body = NULL` matches no row; with transform_null_equals it reads `body IS NULL`, every row here.
    const sql = 'DELETE FROM records WHERE body = NULL';
    const before = await rows();
    const asker = await agent();
    const e = await refused(asker, sql);
    const id = requestId(e.code, e.message);
    await approve(id);

    const changed = await agent();
    await changed.query('SET transform_null_equals = on');
    const denied = await refused(changed, sql);
    assert.equal(denied.code, '0A000', denied.message);
    assert.match(denied.message, /changed transform_null_equals after login/);
    assert.equal(await rows(), before, 'nothing was deleted');
    // Nor through a setting set by a function, or a custom one a row security policy could read.
    const viaFunction = await agent();
    await viaFunction.query("SELECT set_config('app.tenant', 'other', false)");
    assert.match((await refused(viaFunction, sql)).message, /changed app\.tenant after login/);

    // Settings that change only speed, waits or how a float is written leave the session able to take it.
    const tuned = await agent();
    await tuned.query("SET statement_timeout = '5s'");
    await tuned.query('SET extra_float_digits = 3');
    await tuned.query('SET enable_seqscan = off');
    const ran = await tuned.query(sql);
    assert.equal(ran.rowCount, 0, 'the approval was still there, untaken by the refused sessions');
    assert.equal(await rows(), before);
    await Promise.all([asker, changed, viaFunction, tuned].map((c) => c.end()));
  });

  it('pins the settings the session has: a packet’s own DateStyle wins over one in options, as on the server', async () => {
    const client = await RawClient.connect(h.port);
    await client.startTls();
    // The packet names DateStyle before options does: the server applies options first, so month-first wins.
    const login = await client.login(token, {
      user: 'agent',
      database: CONNECTION,
      DateStyle: 'ISO, MDY',
      options: '-c DateStyle=ISO,DMY',
    });
    const reported = login.find((f) => f.code === 'S' && f.body.toString('utf8').startsWith('DateStyle\0'));
    assert.equal(reported?.body.toString('utf8'), 'DateStyle\0ISO, MDY\0', 'what the server says the session has');
    client.write(new Bytes().cstring('DELETE FROM records WHERE id = 4').frame('Q'));
    const held = (await client.untilReady()).find((f) => f.code === 'E');
    assert.ok(held !== undefined);
    const { code, message } = errorOf(held);
    assert.equal((await request(requestId(code, message)))['settings'], '{"datestyle":"ISO, MDY"}');
    client.close();
  });

  it('hunts for a statement that runs under an approval of another reading', async () => {
    await h.cluster.sql(
      `CREATE TABLE pins (id bigint PRIMARY KEY, day date, note text, hits int NOT NULL DEFAULT 0);
       INSERT INTO pins (id, day, note) VALUES (${ROW.double}, NULL, 'x'), (${ROW.bigint}, NULL, 'x'),
         (${ROW.monthFirst}, '2025-03-04', 'x'), (${ROW.dayFirst}, '2025-04-03', 'x'), (${ROW.nullNote}, NULL, NULL);
       GRANT ALL ON pins TO sync_writer`,
      'records',
    );
    const hunter = await h.token({ groups: [], roles: [PIN_HUNTER] });
    const seed = Number(process.env['IDGATE_HUNT_SEED'] ?? 7);
    const { ran, meaningOf } = await huntPins(h, hunter, seededPick(seed), 40);
    // Each approval that was used ran its statement once, updating the one row the statement that asked for it selects.
    const used = new Map<string, number>();
    for (const r of h.gateway.services.approvals.list()) {
      const row = r.state === 'used' ? meaningOf.get(r.id) : undefined;
      if (row !== undefined) used.set(row, (used.get(row) ?? 0) + 1);
    }
    const hits = (await h.cluster.sql('SELECT id, hits FROM pins', 'records'))
      .trim()
      .split('\n')
      .map((line) => line.split('|') as [string, string]);
    for (const [row, n] of hits) {
      assert.equal(
        Number(n),
        used.get(row) ?? 0,
        `seed ${seed}: row ${row} updated ${n} times, by ${used.get(row) ?? 0} approvals of its reading`,
      );
    }
    assert.ok(ran >= 10, `seed ${seed}: only ${ran} approved statements ran: the hunt tried too little`);
  });

  it('pins the settings of the login that asked: a session that logged in reading dates otherwise needs its own', async () => {
    const sql = 'DELETE FROM records WHERE id = 3';
    const dayFirst = await agent('-c DateStyle=ISO,DMY');
    // The dry run logs in as the session did: it reads the date day-first too (3 rows, not the 4 of month-first).
    const previewed = requestId(
      ...codeAndMessage(await refused(dayFirst, "DELETE FROM records WHERE id <= extract(day FROM date '03/04/2025')")),
    );
    for (let i = 0; i < 100 && (await request(previewed))['preview'] === null; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await request(previewed))['preview'], { rows: 3 });
    const id = requestId(...codeAndMessage(await refused(dayFirst, sql)));
    assert.equal((await request(id))['settings'], '{"datestyle":"ISO,DMY"}', 'the approver sees how the session reads dates');
    await approve(id);

    const plain = await agent();
    const other = requestId(...codeAndMessage(await refused(plain, sql)));
    assert.notEqual(other, id, 'a session reading dates month-first asks anew');
    assert.equal(Number((await h.cluster.sql('SELECT count(*) FROM records WHERE id = 3', 'records')).trim()), 1);

    const again = await agent('-c DateStyle=ISO,DMY');
    assert.equal((await again.query(sql)).rowCount, 1, 'a session that logged in alike runs it');
    await Promise.all([dayFirst, plain, again].map((c) => c.end()));
  });
});

function codeAndMessage(e: PgError): [string | undefined, string] {
  return [e.code, e.message];
}

/** Eight bytes that are 2^62 as a bigint and 2.0 as a double precision: two rows, by the type the Parse names. */
const TWO = Buffer.from('4000000000000000', 'hex');
const BY_ID = 'UPDATE pins SET hits = hits + 1 WHERE id = $1';
const BY_DAY = "UPDATE pins SET hits = hits + 1 WHERE day = '03/04/2025'";
const BY_NULL = 'UPDATE pins SET hits = hits + 1 WHERE note = NULL';
/** The rows the readings of the statements above select. */
const ROW = { double: '2', bigint: String(2n ** 62n), monthFirst: '10', dayFirst: '11', nullNote: '20' } as const;

/**
 * Random sessions — logged in reading dates month-first or day-first, some changing a setting
 * after login — send three statements whose meaning hangs on what an approval must pin: a Bind of
 * the same eight bytes under four Parse types and two formats, a date literal, `= NULL`. Between
 * sessions random pending requests are approved. Returns how many statements ran. Every statement
 * that runs updates exactly one row, so at the end each row must have been updated exactly as often
 * as approvals whose pinned reading selects it were used: a statement that ran under an approval
 * of another reading updates a row its approval does not account for.
 */
async function huntPins(h: Harness, token: string, pick: (n: number) => number, sessions: number): Promise<Hunted> {
  const hunted: Hunted = { ran: 0, meaningOf: new Map() };
  for (let n = 0; n < sessions; n++) {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    const { parameters, dayFirst } = startupPacket(pick);
    const reading: Reading = { dayFirst, nullIsNull: false };
    const login = await c.login(token, { user: 'hunter', database: CONNECTION, ...parameters });
    assert.equal(login.at(-1)?.code, 'Z');
    const change = ["SET datestyle = 'ISO, DMY'", 'SET transform_null_equals = on', "SET statement_timeout = '5s'"][pick(5)];
    if (change !== undefined) {
      c.write(new Bytes().cstring(change).frame('Q'));
      assert.equal((await c.untilReady()).at(-1)?.body.toString(), 'I');
      if (change.includes('DMY')) reading.dayFirst = true;
      if (change.includes('transform_null_equals')) reading.nullIsNull = true;
    }
    for (let k = 0, statements = 1 + pick(5); k < statements; k++) {
      const { frames, row } = await sendOne(c, pick, reading);
      if (frames.some((f) => f.code === 'C')) hunted.ran += 1;
      // The statement that made a request is what its approval stands for.
      const held = frames.find((f) => f.code === 'E' && errorOf(f).code === 'IGA01');
      const id = held === undefined ? undefined : /request ([0-9a-f]{12})/.exec(errorOf(held).message)?.[1];
      if (id !== undefined && !hunted.meaningOf.has(id)) hunted.meaningOf.set(id, row);
    }
    c.close();
    // Some of what waits is approved.
    for (const r of h.gateway.services.approvals.list()) {
      if (r.state === 'pending' && pick(2) === 1) {
        h.gateway.services.approvals.decide(r.id, { approve: true, by: 'hunter', via: 'test', from: 'test', reason: 'the hunt' });
      }
    }
  }
  return hunted;
}

/**
 * How a session asks for its DateStyle: in the packet, in `options`, both (either first in the
 * packet), or not at all — and whether it then reads dates day-first, by the server's rule: options
 * are applied first and the packet's own setting wins; the server's default is month-first.
 */
function startupPacket(pick: (n: number) => number): { parameters: Record<string, string>; dayFirst: boolean } {
  const style = (): 'ISO, DMY' | 'ISO, MDY' => (pick(2) === 0 ? 'ISO, DMY' : 'ISO, MDY');
  const named = pick(3) === 0 ? undefined : style();
  const inOptions = pick(3) === 0 ? undefined : style();
  const options = inOptions === undefined ? {} : { options: `-c DateStyle=${inOptions.replace(' ', '')}` };
  const packet = named === undefined ? {} : { DateStyle: named };
  const parameters = pick(2) === 0 ? { ...packet, ...options } : { ...options, ...packet };
  return { parameters, dayFirst: (named ?? inOptions ?? 'ISO, MDY') === 'ISO, DMY' };
}

interface Hunted {
  /** Statements that ran. */
  ran: number;
  /** Each request's row: the one the statement that made it selects, as the session read it. */
  readonly meaningOf: Map<string, string | undefined>;
}

/** How a session reads the statements: dates day-first, `= NULL` as IS NULL. */
interface Reading {
  dayFirst: boolean;
  nullIsNull: boolean;
}

/**
 * One of the three statements, in one of its forms: the frames up to ReadyForQuery, and the row
 * it selects in this session — the hunt's own account of what Postgres does, not the gateway's.
 */
async function sendOne(
  c: RawClient,
  pick: (n: number) => number,
  reading: Reading,
): Promise<{ frames: RawFrame[]; row: string | undefined }> {
  let row: string | undefined;
  switch (pick(3)) {
    case 0:
      c.write(new Bytes().cstring(BY_DAY).frame('Q'));
      row = reading.dayFirst ? ROW.dayFirst : ROW.monthFirst;
      break;
    case 1:
      c.write(new Bytes().cstring(BY_NULL).frame('Q'));
      row = reading.nullIsNull ? ROW.nullNote : undefined;
      break;
    default: {
      const types = [[], [0], [INT8], [FLOAT8]][pick(4)] ?? [];
      const binary = pick(2) === 0;
      const bind = binary ? bindBinary(TWO) : new Bytes().cstring('').cstring('').int16(0).int16(1).int32(1).raw('2').int16(0).frame('B');
      c.write(Buffer.concat([parse(BY_ID, types), bind, execute(), sync()]));
      // The text '2' is 2 under every type; the eight bytes are 2.0 as a double precision, 2^62 otherwise (bigint, named or inferred).
      row = !binary || types[0] === FLOAT8 ? ROW.double : ROW.bigint;
    }
  }
  return { frames: await c.untilReady(), row };
}
