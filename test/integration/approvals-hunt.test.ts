import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Bytes } from '../support/byte-builder.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { errorOf, RawClient, type RawFrame } from '../support/raw-client.js';
import { seededPick } from '../support/seeded-random.js';

const ROLE = 'Counters.ApprovedUpdates';
const IDS = [1, 2, 3, 4, 5];
/** Each id its own table of one row: the server's statistics count every update tried on it, committed or rolled back. */
const SIMPLE = (k: number): string => `UPDATE counter_${k} SET n = n + 1 WHERE id = 1`;
const PREPARED = (k: number): string => `UPDATE counter_${k} SET n = n + 1 WHERE id = $1`;
/** Texts a pipeline may prepare besides the held ones: a read, one that fails when run, one the server cannot parse. */
const PLAIN = ['SELECT n FROM counter_1 WHERE id = $1', 'SELECT 1 / ($1::int - $1::int)', 'SELECT n FROM no_such_table WHERE id = $1'];
const NAMES = ['', 's1', 's2'];
const PORTALS = ['', 'p1'];

const query = (sql: string): Buffer => new Bytes().cstring(sql).frame('Q');
const parse = (name: string, sql: string): Buffer => new Bytes().cstring(name).cstring(sql).int16(0).frame('P');
/** A Bind of the value 1 (text or binary: two values an approval tells apart). */
function bind(portal: string, name: string, binary: boolean): Buffer {
  const k = 1;
  const b = new Bytes().cstring(portal).cstring(name);
  if (binary) {
    const v = Buffer.alloc(4);
    v.writeInt32BE(k);
    return b.int16(1).int16(1).int16(1).int32(4).raw(v).int16(0).frame('B');
  }
  return b.int16(0).int16(1).int32(String(k).length).raw(String(k)).int16(0).frame('B');
}
function bindText(portal: string, name: string, values: string[]): Buffer {
  const b = new Bytes().cstring(portal).cstring(name).int16(0).int16(values.length);
  for (const v of values) b.int32(Buffer.byteLength(v)).raw(v);
  return b.int16(0).frame('B');
}
const execute = (portal: string, maxRows: number): Buffer => new Bytes().cstring(portal).int32(maxRows).frame('E');
const describe_ = (kind: 'S' | 'P', name: string): Buffer => new Bytes().raw(kind).cstring(name).frame('D');
const close = (kind: 'S' | 'P', name: string): Buffer => new Bytes().raw(kind).cstring(name).frame('C');
const sync = (): Buffer => new Bytes().frame('S');
const flush = (): Buffer => new Bytes().frame('H');

/**
 * One random message of a pipeline, or (a third of the time) a motif: the moves around the unnamed
 * statement and named ones that a gate keeping its own account of prepared statements could get
 * wrong — a Parse the server skips after an error, a plain Parse before or after a held one in one
 * batch, a Close and a new Parse under the same name, a Bind and Execute of what is there.
 */
function randomMessages(pick: (n: number) => number): Buffer[] {
  const name = NAMES[pick(NAMES.length)] ?? '';
  const portal = PORTALS[pick(PORTALS.length)] ?? '';
  const k = IDS[pick(IDS.length)] ?? 1;
  const plain = PLAIN[pick(PLAIN.length)] ?? '';
  const run = (statement: string): Buffer[] => [bind(portal, statement, pick(4) === 0), execute(portal, pick(2))];
  switch (pick(9)) {
    case 0:
      return run(name);
    case 1:
      return [parse(name, PREPARED(k)), ...run(name)];
    case 2:
      // An error, then a plain Parse of the unnamed statement the server skips.
      return [parse('s1', PLAIN[2] ?? ''), parse('', plain)];
    case 3:
      return [parse('', plain), parse('', PREPARED(k)), ...run('')];
    case 4:
      return [parse('', PREPARED(k)), parse('', plain), ...run('')];
    case 5:
      return [close('S', name), parse(name, pick(2) === 0 ? plain : PREPARED(k))];
    default:
      return [randomMessage(pick)];
  }
}

/** One random message of a pipeline. */
function randomMessage(pick: (n: number) => number): Buffer {
  const name = NAMES[pick(NAMES.length)] ?? '';
  const portal = PORTALS[pick(PORTALS.length)] ?? '';
  const k = IDS[pick(IDS.length)] ?? 1;
  switch (pick(12)) {
    case 0:
      return query(SIMPLE(k));
    case 1:
    case 2:
      return parse(name, PREPARED(k));
    case 3:
      return parse(name, PLAIN[pick(PLAIN.length)] ?? '');
    case 4:
    case 5:
      return bind(portal, name, pick(4) === 0);
    case 6:
    case 7:
      return execute(portal, pick(3));
    case 8:
      return pick(2) === 0 ? describe_('S', name) : describe_('P', portal);
    case 9:
      return pick(2) === 0 ? close('S', name) : close('P', portal);
    case 10:
      return pick(3) === 0 ? query(['BEGIN', 'COMMIT', 'ROLLBACK'][pick(3)] ?? 'BEGIN') : flush();
    default:
      return sync();
  }
}

/**
 * Hunts for a way around an approval with the extended protocol's own moves: random pipelines of
 * Parse, Bind (text and binary values), Describe, Execute (with row limits), Close, Flush, Sync,
 * simple queries and transaction control, over three statement names and two portals, with errors
 * the server raises at Parse and at Execute. Some statements are approved on the way (each
 * approval once, for one text and its values). The oracle is the database itself: every run of
 * a held UPDATE adds one to its counter, so no counter may exceed the approvals given for it.
 */
describe('approvals hunted with random pipelines', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({
      approvals: { 'pending-per-identity': 1000 },
      identityMap: [
        { 'entra-app-role': ROLE, connection: CONNECTION, scope: `read write:${IDS.map((k) => `counter_${k}`).join(',')} approve:update` },
      ],
    });
    for (const k of IDS) {
      await h.cluster.sql(
        `CREATE TABLE counter_${k} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0); INSERT INTO counter_${k} VALUES (1, 0);
         GRANT ALL ON counter_${k} TO sync_writer`,
        'records',
      );
    }
  });
  after(async () => {
    await h.stop();
  });

  /**
   * Sends frames, then a ROLLBACK and a marker statement, and reads up to the marker's answer:
   * after an error the server skips to the next Sync — simple queries included — so how many
   * ReadyForQuery a pipeline brings is the server's to say, not the test's. Both go through the
   * extended protocol as named statements: a simple query would drop the unnamed statement, and
   * with it every move that spans two pipelines.
   */
  async function exchange(c: RawClient, frames: Buffer[]): Promise<RawFrame[]> {
    const marker = String(100_000 + (markers += 1));
    const tail = [bindText('hunt_r', 'hunt_rollback', []), execute('hunt_r', 0), close('P', 'hunt_r')];
    tail.push(bindText('hunt_m', 'hunt_marker', [marker]), execute('hunt_m', 0), close('P', 'hunt_m'), sync());
    c.write(Buffer.concat([...frames, ...tail]));
    const got: RawFrame[] = [];
    let marked = false;
    for (;;) {
      const f = await c.readFrame();
      got.push(f);
      if (f.code === 'D' && f.body.subarray(6).toString() === marker) marked = true;
      if (marked && f.code === 'Z') return got;
    }
  }
  let markers = 0;

  /**
   * Asks for `frames`' statement until it is held (IGA01) — an approval given earlier and not yet
   * used lets the first ask run it — then approves that request.
   */
  async function approve(c: RawClient, frames: Buffer[]): Promise<string> {
    for (let tries = 0; tries < 3; tries++) {
      const error = (await exchange(c, frames)).find((f) => f.code === 'E');
      if (error === undefined) continue;
      const { code, message } = errorOf(error);
      assert.equal(code, 'IGA01', message);
      const id = /request ([0-9a-f]{12})/.exec(message)?.[1] ?? '';
      h.gateway.services.approvals.decide(id, { approve: true, by: 'hunter', via: 'test', from: 'test', reason: 'the hunt' });
      return id;
    }
    assert.fail('the statement was never held');
  }

  /**
   * One hunting session: `rounds` random pipelines, an approval given before one in `approveEvery`
   * (0: never). Returns the approvals given per id and how many statements were held.
   */
  async function hunt(seed: number, rounds: number, approveEvery: number): Promise<{ credit: Map<number, number>; held: number }> {
    const pick = seededPick(seed);
    const credit = new Map<number, number>(IDS.map((k) => [k, 0]));
    const c = await RawClient.connect(h.port);
    await c.startTls();
    const login = await c.login(await h.token({ groups: [], roles: [ROLE] }), { user: 'hunter', database: CONNECTION });
    assert.equal(login.at(-1)?.code, 'Z');
    c.write(Buffer.concat([parse('hunt_rollback', 'ROLLBACK'), parse('hunt_marker', 'SELECT $1::int'), sync()]));
    while ((await c.readFrame()).code !== 'Z');
    let held = 0;
    for (let round = 0; round < rounds; round++) {
      if (approveEvery > 0 && pick(approveEvery) === 0) {
        const k = IDS[pick(IDS.length)] ?? 1;
        const simple = pick(2) === 0;
        await approve(c, simple ? [query(SIMPLE(k))] : [parse('', PREPARED(k)), bind('', '', false), execute('', 0), sync()]);
        credit.set(k, (credit.get(k) ?? 0) + 1);
      }
      const messages = Array.from({ length: 1 + pick(10) }, () => randomMessages(pick)).flat();
      messages.push(sync());
      const got = await exchange(c, messages);
      held += got.filter((f) => f.code === 'E' && errorOf(f).code === 'IGA01').length;
    }
    c.write(new Bytes().frame('X'));
    await c.waitClosed();
    // The session is gone: its backend flushed its statistics as it exited.
    await h.assertNoLeaks();
    return { credit, held };
  }

  /** Updates tried on each counter table (the server's statistics count them committed or rolled back). */
  async function updatesTried(): Promise<Map<number, number>> {
    const rows = await h.cluster.sql("SELECT relname, n_tup_upd FROM pg_stat_user_tables WHERE relname LIKE 'counter\\_%'", 'records');
    return new Map(
      rows
        .trim()
        .split('\n')
        .map((l) => l.split('|'))
        .map(([table, n]) => [Number(table?.slice('counter_'.length)), Number(n)]),
    );
  }
  const seed = Number(process.env['IDGATE_HUNT_SEED'] ?? 20261207);

  it('finds no pipeline that runs a held statement nobody approved', { timeout: 120_000 }, async () => {
    const { held } = await hunt(seed, 1500, 0);
    assert.ok(held > 100, `${held} statements held`);
    for (const [k, n] of await updatesTried()) assert.equal(n, 0, `counter_${k}: ${n} updates tried with no approval (seed ${seed})`);
  });

  it('finds no pipeline that runs an approved statement more often than it was approved', { timeout: 120_000 }, async () => {
    const { credit, held } = await hunt(seed + 1, 1500, 12);
    // Each approval is taken at its Query or Bind ('used'); the updates tried may be fewer (skipped after an error), never more.
    const used = new Map<number, number>(IDS.map((k) => [k, 0]));
    for (const r of h.gateway.services.approvals.list()) {
      const k = Number(/counter_(\d)/.exec(r.sql)?.[1]);
      if (r.state === 'used') used.set(k, (used.get(k) ?? 0) + 1);
    }
    let ran = 0;
    for (const [k, n] of await updatesTried()) {
      ran += n;
      assert.ok(n <= (used.get(k) ?? 0), `counter_${k}: ${n} updates tried on ${used.get(k)} approvals used (seed ${seed + 1})`);
      assert.ok((used.get(k) ?? 0) <= (credit.get(k) ?? 0), `counter_${k}: more approvals used than given`);
    }
    // The hunt must have exercised both sides: held statements, and approved ones that ran.
    assert.ok(held > 20, `${held} statements held`);
    assert.ok(ran > 5, `${ran} approved statements ran`);
  });

  it('gives an approval back when the server skips its statement or refuses its Bind, and only then', { timeout: 60_000 }, async () => {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token({ groups: [], roles: [ROLE] }), { user: 'hunter', database: CONNECTION });
    c.write(Buffer.concat([parse('hunt_rollback', 'ROLLBACK'), parse('hunt_marker', 'SELECT $1::int'), sync()]));
    while ((await c.readFrame()).code !== 'Z');
    const committed = async (k: number): Promise<number> => Number(await h.cluster.sql(`SELECT n FROM counter_${k}`, 'records'));
    const stateOf = (id: string): string | undefined => h.gateway.services.approvals.get(id)?.state;
    const held = (got: RawFrame[]): boolean => got.some((f) => f.code === 'E' && errorOf(f).code === 'IGA01');
    const failing = parse('s1', PLAIN[2] ?? '');

    // Extended: the approved Bind comes after an error in its pipeline — skipped, given back, then run once.
    const prepared = [parse('', PREPARED(4)), bind('', '', false), execute('', 0), sync()];
    const id4 = await approve(c, prepared);
    const returned = async (): Promise<number> =>
      Number(/^idgate_approvals_total\{event="returned"[^}]*\} (\d+)/m.exec(await h.gateway.services.metrics.text())?.[1] ?? 0);
    const returnedBefore = await returned();
    const before4 = await committed(4);
    assert.equal(held(await exchange(c, [failing, ...prepared])), false);
    assert.equal(stateOf(id4), 'approved', 'given back');
    assert.equal(await returned(), returnedBefore + 1, 'and counted');
    assert.equal(held(await exchange(c, prepared)), false);
    assert.equal(await committed(4), before4 + 1, 'ran once');
    assert.equal(held(await exchange(c, prepared)), true, 'and only once');

    // A simple query skipped after an error in the same pipeline: given back too.
    const id3 = await approve(c, [query(SIMPLE(3))]);
    const before3 = await committed(3);
    await exchange(c, [failing, query(SIMPLE(3)), sync()]);
    assert.equal(stateOf(id3), 'approved');
    await exchange(c, [query(SIMPLE(3))]);
    assert.equal(await committed(3), before3 + 1);

    // A Bind the server refuses (a binary int of 2 bytes: "insufficient data left in message"): nothing ran, given back.
    const bad = new Bytes()
      .cstring('')
      .cstring('')
      .int16(1)
      .int16(1)
      .int16(1)
      .int32(2)
      .raw(Buffer.from([0, 1]))
      .int16(0)
      .frame('B');
    const refusedBind = [parse('', PREPARED(2)), bad, execute('', 0), sync()];
    const id2 = await approve(c, refusedBind);
    const got = await exchange(c, refusedBind);
    assert.ok(
      got.some((f) => f.code === 'E' && errorOf(f).code === '08P01'),
      `the server refused the Bind itself: ${JSON.stringify(got.map((f) => (f.code === 'E' ? errorOf(f) : f.code)))}`,
    );
    assert.equal(stateOf(id2), 'approved');

    // An approved query that ran and failed has spent its approval.
    const id1 = await approve(c, [query(`${SIMPLE(1)} AND 1 / (n - n) = 0`)]);
    await exchange(c, [query(`${SIMPLE(1)} AND 1 / (n - n) = 0`)]);
    assert.equal(stateOf(id1), 'used');
    c.write(new Bytes().frame('X'));
    await c.waitClosed();
  });
});
