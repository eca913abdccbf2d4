import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Bytes } from '../support/byte-builder.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { RawClient } from '../support/raw-client.js';
import { RUN_DIR } from '../support/run-dir.js';
import { testRunnerHookFound, testRunnerHookReleased } from '../support/test-runner-hook.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the relay', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h.stop();
  });

  async function client(): Promise<pg.Client> {
    const c = new pg.Client(pgOptions(h, await h.token()));
    await c.connect();
    return c;
  }

  async function rawSession(): Promise<RawClient> {
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token(), { user: 'raw', database: CONNECTION });
    return c;
  }

  it(
    'runs, bundled as run-tests runs it, with the test runner’s async hook found by the preload and turned off by Harness.start',
    { skip: RUN_DIR === undefined && 'run by hand, without the preload' },
    () => {
      assert.ok(testRunnerHookFound(), 'the preload found the runner’s hook');
      assert.ok(testRunnerHookReleased(), 'Harness.start turned it off (else every promise of the gateway in this process pays for it)');
    },
  );

  it('relays a 40 MB row byte-exact', async () => {
    const c = await client();
    const r = await c.query("SELECT repeat('x', 40 * 1024 * 1024) AS big, md5(repeat('x', 40 * 1024 * 1024)) AS sum");
    assert.equal(r.rows[0].big.length, 40 * 1024 * 1024);
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('md5').update(r.rows[0].big).digest('hex'), r.rows[0].sum);
    await c.end();
  });

  it('relays many result sets of one multi-statement query, in order', async () => {
    const c = await client();
    const sql = Array.from({ length: 200 }, (_, i) => `SELECT ${i} AS n`).join('; ');
    const results = (await c.query(sql)) as unknown as pg.QueryResult[];
    assert.equal(results.length, 200);
    assert.deepEqual(
      results.map((r) => r.rows[0].n),
      Array.from({ length: 200 }, (_, i) => i),
    );
    await c.end();
  });

  it('relays a pipelined extended-protocol batch, with an error in the middle, exactly as Postgres answers it', async () => {
    const c = await rawSession();
    const parse = (sql: string): Buffer => new Bytes().cstring('').cstring(sql).int16(0).frame('P');
    const bind = new Bytes().cstring('').cstring('').int16(0).int16(0).int16(0).frame('B');
    const execute = new Bytes().cstring('').int32(0).frame('E');
    const sync = new Bytes().frame('S');
    c.write(
      Buffer.concat([
        parse('SELECT 1'),
        bind,
        execute,
        sync,
        parse('SELECT 1/0'),
        bind,
        execute,
        sync,
        parse('SELECT 3'),
        bind,
        execute,
        sync,
      ]),
    );
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push(...(await c.untilReady()).map((f) => f.code));
    // 1/0 of constants fails while planning, at Bind: Postgres answers ParseComplete, ErrorResponse, then skips to Sync.
    assert.deepEqual(codes, ['1', '2', 'D', 'C', 'Z', '1', 'E', 'Z', '1', '2', 'D', 'C', 'Z']);
    c.close();
  });

  it('relays LISTEN/NOTIFY between sessions', async () => {
    const listener = await client();
    const notifier = await client();
    await listener.query('LISTEN idgate_events');
    const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
    await notifier.query("NOTIFY idgate_events, 'hello through the gateway'");
    const n = await received;
    assert.equal(n.payload, 'hello through the gateway');
    await listener.end();
    await notifier.end();
  });

  it('stops reading from the upstream when the client does not read (backpressure to Postgres)', async () => {
    const c = await rawSession();
    const pid = Number(
      (await h.cluster.sql(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'sync_writer' AND state = 'idle' ORDER BY backend_start DESC LIMIT 1",
      )) || 0,
    );
    (c.socket as { pause(): void }).pause(); // a client that stops reading
    c.write(new Bytes().cstring("SELECT repeat('y', 1000) FROM generate_series(1, 1000000)").frame('Q'));
    let waitEvent = '';
    for (let i = 0; i < 100 && waitEvent !== 'ClientWrite'; i++) {
      await sleep(100);
      waitEvent = await h.cluster.sql(`SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = ${pid}`);
    }
    assert.equal(waitEvent, 'ClientWrite', 'the upstream backend should block writing to the gateway');
    const memory = process.memoryUsage().rss;
    await sleep(500);
    assert.ok(process.memoryUsage().rss - memory < 64 * 1024 * 1024, 'the gateway must not buffer the result');
    c.close();
    await h.assertNoLeaks();
  });

  it('stops reading from the client when the upstream does not read (backpressure to the client)', async () => {
    const blocker = await client();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE records IN ACCESS EXCLUSIVE MODE');
    const c = await rawSession();
    c.write(new Bytes().cstring('COPY records (title) FROM STDIN').frame('Q'));
    // The COPY waits for the lock, so Postgres reads nothing; push CopyData as fast as the socket takes it.
    const chunk = new Bytes().raw(Buffer.alloc(64 * 1024, 0x61)).frame('d');
    let accepted = 0;
    let drained = true;
    c.socket.on('drain', () => (drained = true));
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      if (drained) {
        drained = c.socket.write(chunk);
        accepted += chunk.length;
      } else await sleep(20);
    }
    const inFlight = accepted - (c.socket.writableLength ?? 0);
    assert.ok(inFlight < 48 * 1024 * 1024, `the gateway took ${inFlight} bytes the upstream would not read`);
    c.close();
    await blocker.query('ROLLBACK');
    await blocker.end();
    await h.assertNoLeaks();
  });

  it('forwards a CancelRequest with the key it issued, and ignores unknown keys', async () => {
    const c = await client();
    const key = c as unknown as { processID: number; secretKey: number };
    const sendCancel = async (processId: number, secretKey: number): Promise<void> => {
      const raw = await RawClient.connect(h.port);
      raw.write(new Bytes().int32(80877102).int32(processId).int32(secretKey).untyped());
      await raw.waitClosed();
    };
    const unaffected = c.query('SELECT pg_sleep(0.5) AS slept');
    await sleep(150);
    await sendCancel(key.processID, key.secretKey ^ 1);
    await sendCancel(key.processID ^ 1, key.secretKey);
    assert.ok(await unaffected, 'a wrong key must not cancel');
    const cancelled = assert.rejects(c.query('SELECT pg_sleep(30)'), (e: { code?: string }) => e.code === '57014');
    await sleep(200);
    const started = Date.now();
    await sendCancel(key.processID, key.secretKey);
    await cancelled;
    assert.ok(Date.now() - started < 5000);
    assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
    await c.end();
  });

  it('cancels the statement under way when it ends a session for a malformed frame: a write that was running is not committed', async () => {
    const { errorOf } = await import('../support/raw-client.js');
    const id = await h.cluster.sql("INSERT INTO records (title) VALUES ('before-malformed') RETURNING id", 'records');
    const c = await rawSession();
    const sql = `WITH pause AS (SELECT pg_sleep(3)) UPDATE records SET title = 'after-malformed' FROM pause WHERE id = ${id}`;
    c.write(new Bytes().cstring(sql).frame('Q'));
    await h.untilRunning(sql);
    // A length field below its own four bytes: no frame can be read past it, and the session ends.
    const malformed = Buffer.from([0x51, 0, 0, 0, 2]);
    c.write(malformed);
    const fatal = await c.readFrame();
    assert.equal(fatal.code, 'E');
    assert.equal(errorOf(fatal).code, '08P01');
    await c.waitClosed();
    // Past the sleep: the UPDATE would have committed by now had it run on.
    await sleep(3500);
    assert.equal(await h.cluster.sql(`SELECT title FROM records WHERE id = ${id}`, 'records'), 'before-malformed');
  });
});

describe('the relay bounds what one client may send', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ listen: { 'max-message-bytes': 1 << 20 } });
  });
  after(async () => {
    await h.stop();
  });

  it('ends a session whose message is over listen.max-message-bytes with 54000, before holding or forwarding any of it, and audits it', async () => {
    const appId = crypto.randomUUID();
    const c = await RawClient.connect(h.port);
    await c.startTls();
    await c.login(await h.token({ azp: appId }), { user: 'raw', database: CONNECTION });
    // Just under the limit: relayed.
    c.write(new Bytes().cstring(`SELECT '${'x'.repeat((1 << 20) - 64)}' AS big`).frame('Q'));
    assert.deepEqual(
      (await c.untilReady()).map((f) => f.code),
      ['T', 'D', 'C', 'Z'],
    );
    // A header announcing 400 MB, and the start of its body: refused at the header.
    const header = Buffer.alloc(5);
    header.write('Q', 0);
    header.writeInt32BE(400 << 20, 1);
    c.write(Buffer.concat([header, Buffer.alloc(64 * 1024, 0x20)]));
    const fatal = await c.readFrame();
    assert.equal(fatal.code, 'E');
    const { errorOf } = await import('../support/raw-client.js');
    assert.equal(errorOf(fatal).code, '54000');
    assert.match(errorOf(fatal).message, /exceeds the gateway's limit of 1048576 \(listen\.max-message-bytes\)/);
    await c.waitClosed();
    const { sessionsJson, settleAudit } = await import('../support/audit.js');
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    assert.equal(session?.['endReason'], 'message-too-large');
  });
});
