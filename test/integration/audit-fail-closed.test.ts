import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { settleAudit, sessionsJson, showJson } from '../support/audit.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the audit log fails closed', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ identityMap: [{ 'entra-app-role': 'Audit.None', connection: CONNECTION, scope: 'all', record: false }] });
  });
  after(async () => {
    await h.stop();
  });

  async function connect(claims: Record<string, unknown> = {}): Promise<pg.Client> {
    const client = new pg.Client(pgOptions(h, await h.token(claims)));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async function waitFor(condition: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200 && !condition(); i++) await sleep(25);
    assert.ok(condition(), what);
  }

  it('ends recorded sessions and refuses new ones while the database is locked, and loses nothing', async () => {
    const appId = crypto.randomUUID();
    const recorded = await connect({ azp: appId });
    const unrecorded = await connect({ groups: [], roles: ['Audit.None'] });
    await settleAudit(h).catch(() => undefined);
    const lock = new Database(h.config.recordingsPath);
    lock.exec('BEGIN EXCLUSIVE');
    const ended = new Promise<Error>((resolve) => recorded.once('error', resolve));
    // Write-ahead: the statement waits for its record, so the end reaches the client as the query's error.
    const queried = await recorded.query('SELECT 1 AS before_the_end').then(
      () => undefined,
      (e: Error) => e,
    );
    const error = (queried ?? (await ended)) as Error & { code?: string };
    assert.equal(error.code, '57P01');
    assert.match(error.message, /audit log cannot be written/);
    await waitFor(() => !h.gateway.services.audit.healthy, 'the audit log is marked failed');
    await assert.rejects(connect(), (e: Error & { code?: string }) => e.code === '57P03' && /audit log cannot be written/.test(e.message));
    assert.equal((await unrecorded.query('SELECT 2 AS n')).rows[0].n, 2, 'a record: false session carries on');
    lock.exec('ROLLBACK');
    lock.close();
    await waitFor(() => h.gateway.services.audit.healthy, 'the audit log recovers');
    const again = await connect();
    await again.query('SELECT 3');
    await again.end();
    await unrecorded.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    assert.equal(session?.['endReason'], 'audit-unavailable');
    const lines = await showJson(h, String(session?.['id']));
    assert.ok(
      lines.some((l) => l['type'] === 'statement' && l['sql'] === 'SELECT 1 AS before_the_end'),
      'the statement the client sent is recorded (held by write-ahead, it never reached the database)',
    );
  });

  it('fails closed when the database file is removed, and waits for an operator rather than begin a new history (on-replaced: wait)', async () => {
    const recorded = await connect();
    await h.gateway.services.audit.flushed();
    const path = h.config.recordingsPath;
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    const ended = new Promise<Error>((resolve) => recorded.once('error', resolve));
    const queried = await recorded.query('SELECT 1').then(
      () => undefined,
      (e: Error) => e,
    );
    assert.equal(((queried ?? (await ended)) as Error & { code?: string }).code, '57P01');
    await sleep(1500);
    assert.equal(existsSync(path), false, 'no new, empty history is begun on its own');
    assert.equal(h.gateway.services.audit.healthy, false);
    await assert.rejects(connect(), (e: { code?: string }) => e.code === '57P03', 'recorded sessions stay refused');
    const unrecorded = await connect({ groups: [], roles: ['Audit.None'] });
    await unrecorded.query('SELECT 1');
    await unrecorded.end();
    assert.ok(h.logLines.some((l) => l.includes('recording waits for an operator')));
  });
});

describe('a removed audit database, with on-replaced: resume', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ recordings: { path: 'recordings/audit.db', 'on-replaced': 'resume' } });
  });
  after(async () => {
    await h.stop();
  });

  it('begins a new database at once, whose origin names the chain heads it continues, and verify reports the discontinuity', async () => {
    const first = new pg.Client(pgOptions(h, await h.token()));
    await first.connect();
    await first.query('SELECT 1');
    await first.end();
    await settleAudit(h);
    const path = h.config.recordingsPath;
    const before = new Database(path, { readonly: true });
    const head = before
      .prepare('SELECT seal_seq, seal_hash FROM sessions WHERE seal_seq IS NOT NULL ORDER BY seal_seq DESC LIMIT 1')
      .get() as { seal_seq: number; seal_hash: string };
    before.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    // The next write notices, and the writer begins the replacement.
    const probe = new pg.Client(pgOptions(h, await h.token()));
    probe.on('error', () => undefined);
    await probe.connect().catch(() => undefined);
    await probe.end().catch(() => undefined);
    for (let i = 0; i < 200 && !(h.gateway.services.audit.healthy && existsSync(path)); i++) await sleep(25);
    const again = new pg.Client(pgOptions(h, await h.token()));
    await again.connect();
    await again.query('SELECT 2');
    await again.end();
    await settleAudit(h);
    const db = new Database(path, { readonly: true });
    const origin = db.prepare('SELECT kind, previous_seal_seq, previous_seal_hash FROM log_origins').all();
    const sealed = db.prepare('SELECT min(seal_seq) AS first FROM sessions').get() as { first: number };
    db.close();
    assert.deepEqual(origin, [{ kind: 'replaced', previous_seal_seq: head.seal_seq, previous_seal_hash: head.seal_hash }]);
    assert.ok(sealed.first > head.seal_seq, 'the seal chain continues where the removed database stopped');
    const { idgate } = await import('../support/cli.js');
    const verify = await idgate(['verify', '--db', path]);
    assert.equal(verify.code, 1, verify.stdout);
    assert.match(
      verify.stdout,
      /TAMPERED \(discontinuity\) log origin: this database was begun .* in place of log \S+, removed or replaced \(the gateway it went under noticed\); it continues that one's chains from seal hash /,
    );
    assert.doesNotMatch(verify.stdout, /\((edited|deleted|inserted|reordered)\)/, 'apart from the discontinuity, its own chains verify');
  });
});
