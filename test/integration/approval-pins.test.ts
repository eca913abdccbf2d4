import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Bytes } from '../support/byte-builder.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { errorOf, RawClient, type RawFrame } from '../support/raw-client.js';

const ADMIN_TOKEN = 'approval-pins-admin-token-0123456789';
const DELETES_APPROVED = 'Records.DeletesApproved';
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
      identityMap: [{ 'entra-app-role': DELETES_APPROVED, connection: CONNECTION, scope: 'read write:records approve:delete' }],
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

  it('pins the settings of the login that asked: a session that logged in reading dates otherwise needs its own', async () => {
    const sql = 'DELETE FROM records WHERE id = 3';
    const dayFirst = await agent('-c DateStyle=ISO,DMY');
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
