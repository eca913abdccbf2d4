import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditLog } from '../../../src/audit/audit-log.js';
import { AuditReader } from '../../../src/audit/audit-reader.js';
import { journalHeader, journalPath, readJournal } from '../../../src/audit/journal-record.js';
import { verifyAudit } from '../../../src/audit/verify-audit.js';
import { createLogger } from '../../../src/logging/logger.js';
import { sessionHeader } from '../../support/session-header.js';

const header = sessionHeader;

/** Events of one session in the database (0 when it holds none, or not the session). */
function countEvents(path: string, sessionId: string): number {
  const reader = new AuditReader(path);
  try {
    return [...reader.events(sessionId)].length;
  } catch {
    return 0;
  } finally {
    reader.close();
  }
}

describe('AuditLog', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-audit-log-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports congestion while the writer is held up, and drains once it catches up, losing nothing', async () => {
    const path = join(dir, 'slow.db');
    const log = await AuditLog.open(path, createLogger('silent'), {
      limits: { highWater: 100, highWaterBytes: 1 << 30, lowWater: 10, lowWaterBytes: 1 << 30 },
    });
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

  it('afterDurable calls back once what was recorded is in the write-ahead journal, even while the database cannot be written', async () => {
    const path = join(dir, 'durable.db');
    const log = await AuditLog.open(path, createLogger('silent'), { writeAhead: true });
    const recorder = log.startSession(header('d1'), true);
    assert.equal(recorder.writeAhead, true);
    await log.flushed();
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    const order: number[] = [];
    const durable = [1, 2, 3].map(
      (i) =>
        new Promise<void>((resolve) => {
          recorder.record('client', 'Query', { sql: `SELECT ${i}` });
          recorder.afterDurable(() => {
            order.push(i);
            resolve();
          });
        }),
    );
    assert.deepEqual(order, [], 'nothing is durable in the turn it was recorded');
    await Promise.all(durable);
    assert.deepEqual(order, [1, 2, 3]);
    const journal = readJournal(readFileSync(journalPath(path)));
    const journaled = journal.batches.flatMap((b) => b.events).reduce((n, e) => n + e.count, 0);
    assert.equal(journaled, 3, 'the three events are in the journal');
    assert.equal(countEvents(path, 'd1'), 0, 'and not yet in the database, which is locked');
    blocker.exec('COMMIT');
    blocker.close();
    await log.flushed();
    assert.equal(countEvents(path, 'd1'), 3);
    let immediate = false;
    recorder.afterDurable(() => (immediate = true));
    assert.equal(immediate, true, 'with nothing unjournaled, the callback comes at once');
    recorder.end({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 });
    await log.close();
    assert.equal(
      readFileSync(journalPath(path)).length,
      journalHeader(journal.logId ?? '').length,
      'a clean stop leaves the journal empty',
    );
  });

  it('puts in each journal record only the sessions that recorded since the one before, each event once, across writer batches', async () => {
    const path = join(dir, 'slices.db');
    const log = await AuditLog.open(path, createLogger('silent'), { writeAhead: true });
    const [a, b] = [log.startSession(header('a1'), true), log.startSession(header('b1'), true)];
    const durable = (): Promise<void> => new Promise((resolve) => a.afterDurable(resolve));
    await log.flushed();
    a.record('client', 'Query', { sql: 'SELECT 1' });
    await durable();
    b.record('client', 'Query', { sql: 'SELECT 2' });
    b.record('client', 'Query', { sql: 'SELECT 3' });
    await durable();
    a.record('client', 'Query', { sql: 'SELECT 4' });
    b.record('client', 'Query', { sql: 'SELECT 5' });
    await durable();
    await log.flushed(); // a writer batch: the segments start afresh
    b.record('client', 'Query', { sql: 'SELECT 6' });
    await durable();
    const slices = readJournal(readFileSync(journalPath(path)))
      .batches.filter((batch) => batch.events.length > 0)
      .map((batch) => batch.events.map((e) => `${e.sessionId}:${e.count}`).join(' '));
    assert.deepEqual(slices, ['a1:1', 'b1:2', 'a1:1 b1:1', 'b1:1']);
    await log.close();
  });

  it('recovers from the journal what a process killed with SIGKILL had made durable but not yet written, then seals the session as gateway-lost', async () => {
    const path = join(dir, 'killed.db');
    const moduleUrl = new URL('../../../src/audit/audit-log.js', import.meta.url).href;
    const loggerUrl = new URL('../../../src/logging/logger.js', import.meta.url).href;
    // A writer process: records 50 events once told to, and kills itself the moment they are durable.
    const script = `
      const { AuditLog } = await import(${JSON.stringify(moduleUrl)});
      const { createLogger } = await import(${JSON.stringify(loggerUrl)});
      const log = await AuditLog.open(${JSON.stringify(path)}, createLogger('silent'), { writeAhead: true });
      const recorder = log.startSession(${JSON.stringify(header('k1'))}, true);
      await log.flushed();
      process.stdout.write('ready');
      process.stdin.once('data', () => {
        for (let i = 0; i < 50; i++) recorder.record('client', 'Query', { sql: 'SELECT ' + i });
        recorder.afterDurable(() => process.kill(process.pid, 'SIGKILL'));
      });`;
    // A file, not `-e`: worker threads inherit the process's flags, and --input-type would stop the writer's worker from loading.
    const scriptPath = join(dir, 'killed-writer.mjs');
    writeFileSync(scriptPath, script);
    const child = spawn(process.execPath, ['--import', 'tsx', scriptPath], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // The database stays locked until the process is dead: its writer cannot have written the events.
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    child.stdin.write('go\n');
    assert.equal(await exited, 'SIGKILL');
    blocker.exec('ROLLBACK');
    blocker.close();
    assert.equal(countEvents(path, 'k1'), 0, 'the dead process wrote none of them to the database');

    const lines: string[] = [];
    const log = await AuditLog.open(path, createLogger('info', { write: (l: string) => void lines.push(l) }), { writeAhead: true });
    await log.flushed();
    await log.close();
    assert.equal(countEvents(path, 'k1'), 50, 'all fifty are recovered from the journal');
    assert.ok(lines.some((l) => l.includes('recovered what a process that died had recorded')));
    const reader = new AuditReader(path);
    assert.equal(reader.session('k1')?.end_reason, 'gateway-lost');
    reader.close();
    const db = new Database(path, { readonly: true });
    const report = verifyAudit(db);
    db.close();
    assert.deepEqual(report.findings, []);
  });

  it('keeps the journal bounded under a steady load: past its limit it is emptied once the database holds all of it', async () => {
    const path = join(dir, 'bounded.db');
    const limit = 64 << 10;
    const log = await AuditLog.open(path, createLogger('silent'), { writeAhead: true, journalLimitBytes: limit });
    const recorder = log.startSession(header('b1'), true);
    const sql = `SELECT '${'x'.repeat(200)}'`;
    let largest = 0;
    let emptied = 0;
    let previous = 0;
    // A client that never pauses: each statement waits only for its own record, as a session does.
    for (let i = 0; i < 3000; i++) {
      recorder.record('client', 'Query', { sql });
      await new Promise<void>((resolve) => recorder.afterDurable(resolve));
      const size = statSync(journalPath(path)).size;
      largest = Math.max(largest, size);
      if (size < previous) emptied += 1;
      previous = size;
    }
    assert.ok(emptied >= 5, `emptied ${emptied} times over ~${3000 * 300} bytes of records`);
    assert.ok(largest < 2 * limit, `the journal stayed under twice its limit (largest ${largest} bytes)`);
    recorder.end({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 });
    await log.close();
    assert.equal(countEvents(path, 'b1'), 3000, 'and nothing was lost on the way');
  });

  it('sets aside, unapplied, a journal that belongs to another database', async () => {
    const path = join(dir, 'foreign.db');
    writeFileSync(journalPath(path), Buffer.concat([journalHeader('another-log'), Buffer.from('whatever followed')]));
    const lines: string[] = [];
    const log = await AuditLog.open(path, createLogger('info', { write: (l: string) => void lines.push(l) }), { writeAhead: true });
    await log.close();
    assert.ok(lines.some((l) => l.includes('set aside, not applied')));
    assert.ok(readdirSync(dir).some((f) => f.startsWith('foreign.db.write-ahead.set-aside-')));
  });

  it('one gateway writes one database: a second writer is refused while the first lives, a dead one’s lock is taken over', async () => {
    const path = join(dir, 'locked.db');
    const first = await AuditLog.open(path, createLogger('silent'));
    await assert.rejects(
      AuditLog.open(path, createLogger('silent')),
      new RegExp(`being written by another idgate \\(process ${process.pid}`),
    );
    await first.close();
    writeFileSync(`${path}.lock`, `999999999@${hostname()}`); // a crashed gateway's lock
    const second = await AuditLog.open(path, createLogger('silent'));
    assert.equal(readFileSync(`${path}.lock`, 'utf8'), `${process.pid}@${hostname()}`);
    await second.close();
    assert.equal(existsSync(`${path}.lock`), false, 'released at close');
  });

  it('counts bytes as well as events, so a few huge events also hold the clients back', async () => {
    const log = await AuditLog.open(join(dir, 'bytes.db'), createLogger('silent'), {
      limits: { highWater: 1_000_000, highWaterBytes: 1 << 20, lowWater: 1_000_000, lowWaterBytes: 1 << 19 },
    });
    log.startSession(header('s2'), true).record('client', 'Query', { sql: 'x'.repeat(2 << 20) });
    assert.equal(log.congested, true);
    await log.flushed();
    assert.equal(log.congested, false);
    await log.close();
  });
});
