import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { nowMicros } from '../../../src/audit/audit-event.js';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { AuditReader } from '../../../src/audit/audit-reader.js';
import { createLogger } from '../../../src/logging/logger.js';

const header = (id: string) => ({
  id,
  protocol: 'postgres',
  startedAtUs: nowMicros(),
  identity: { objectId: 'o', appId: 'a', tenantId: 't' },
  clientUser: 'u',
  mapping: { index: 0, kind: 'entra-group', value: 'g', connection: 'c', scope: 'all', record: true as const },
  clientAddress: '127.0.0.1',
  clientTls: true,
  upstream: 'h:1/d',
});

describe('AuditLog', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-audit-log-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports congestion while the writer is held up, and drains once it catches up, losing nothing', async () => {
    const path = join(dir, 'slow.db');
    const log = await AuditLog.open(path, createLogger('silent'), { limits: { highWater: 100, highWaterBytes: 1 << 30, lowWater: 10, lowWaterBytes: 1 << 30 } });
    const recorder = log.startSession(header('s1'), true);
    await log.flushed();
    // Another connection holds the write lock for less than the writer's busy timeout: the writer waits.
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < 500; i++) recorder.record('client', 'Query', { sql: `SELECT ${i}` });
    assert.equal(log.congested, true);
    let drained = false;
    log.whenDrained(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(drained, false, 'still held up');
    blocker.exec('COMMIT');
    blocker.close();
    await log.flushed();
    assert.equal(drained, true);
    assert.equal(log.congested, false);
    assert.equal(log.healthy, true);
    recorder.end({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 });
    await log.close();
    const reader = new AuditReader(path);
    assert.equal([...reader.events('s1')].length, 500);
    reader.close();
  });

  it('afterDurable calls back only once what was recorded is committed, in order, gathering waiters into one commit', async () => {
    const path = join(dir, 'durable.db');
    const log = await AuditLog.open(path, createLogger('silent'), { writeAhead: true });
    const recorder = log.startSession(header('d1'), true);
    assert.equal(recorder.writeAhead, true);
    const committed = (): number => {
      const reader = new AuditReader(path);
      try {
        return [...reader.events('d1')].length;
      } catch {
        return 0;
      } finally {
        reader.close();
      }
    };
    const seen: number[] = [];
    for (let i = 1; i <= 3; i++) {
      recorder.record('client', 'Query', { sql: `SELECT ${i}` });
      recorder.afterDurable(() => seen.push(committed()));
    }
    assert.deepEqual(seen, [], 'nothing is durable in the turn it was recorded');
    // The writer is held up: no callback until it can commit.
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, [], 'not durable while the database cannot be written');
    blocker.exec('COMMIT');
    blocker.close();
    await log.flushed();
    assert.deepEqual(seen, [3, 3, 3], 'each callback saw its own event (and the others of its turn) committed');
    let immediate = false;
    recorder.afterDurable(() => (immediate = true));
    assert.equal(immediate, true, 'with nothing pending, the callback comes at once');
    recorder.end({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 });
    await log.close();
  });

  it('one gateway writes one database: a second writer is refused while the first lives, a dead one’s lock is taken over', async () => {
    const path = join(dir, 'locked.db');
    const first = await AuditLog.open(path, createLogger('silent'));
    await assert.rejects(AuditLog.open(path, createLogger('silent')), new RegExp(`being written by another idgate \\(process ${process.pid}`));
    await first.close();
    writeFileSync(`${path}.lock`, `999999999@${hostname()}`); // a crashed gateway's lock
    const second = await AuditLog.open(path, createLogger('silent'));
    assert.equal(readFileSync(`${path}.lock`, 'utf8'), `${process.pid}@${hostname()}`);
    await second.close();
    assert.equal(existsSync(`${path}.lock`), false, 'released at close');
  });

  it('counts bytes as well as events, so a few huge events also hold the clients back', async () => {
    const log = await AuditLog.open(join(dir, 'bytes.db'), createLogger('silent'), { limits: { highWater: 1_000_000, highWaterBytes: 1 << 20, lowWater: 1_000_000, lowWaterBytes: 1 << 19 } });
    log.startSession(header('s2'), true).record('client', 'Query', { sql: 'x'.repeat(2 << 20) });
    assert.equal(log.congested, true);
    await log.flushed();
    assert.equal(log.congested, false);
    await log.close();
  });
});
