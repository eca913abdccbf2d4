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
    await recorded.query('SELECT 1 AS before_the_end').catch(() => undefined);
    const error = (await ended) as Error & { code?: string };
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
    const [session] = await sessionsJson(h, '--identity', appId);
    assert.equal(session?.['endReason'], 'audit-unavailable');
    const lines = await showJson(h, String(session?.['id']));
    assert.ok(lines.some((l) => l['type'] === 'statement' && l['sql'] === 'SELECT 1 AS before_the_end'), 'the statement that ran is recorded');
  });

  it('fails closed when the database file is removed, and records into a new one once it can', async () => {
    const recorded = await connect();
    await h.gateway.services.audit.flushed();
    const path = h.config.recordingsPath;
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
    const ended = new Promise<Error>((resolve) => recorded.once('error', resolve));
    await recorded.query('SELECT 1').catch(() => undefined);
    assert.equal(((await ended) as Error & { code?: string }).code, '57P01');
    await waitFor(() => h.gateway.services.audit.healthy && existsSync(path), 'a new audit database is created');
    const again = await connect();
    await again.query('SELECT 1');
    await again.end();
    await settleAudit(h);
    assert.equal((await sessionsJson(h)).length, 1, 'the new database holds the new session');
  });
});
