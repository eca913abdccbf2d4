import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { journalPath, readJournal } from '../../src/audit/journal-record.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const run = promisify(execFile);
/** Past this size no file of the gateway may grow (RLIMIT_FSIZE): the journal reaches it, the database does not. */
const LIMIT_BYTES = 6 << 20;
/** Half a megabyte in each INSERT's text (which is recorded), so a dozen fill the journal past the limit. */
const PAD = 'x'.repeat(500_000);

/** Sets the running process's file size limit (the soft one), as a full disk would stop its files growing. */
async function limitFileSize(pid: number, bytes: number | 'unlimited'): Promise<void> {
  await run('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`]);
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The write-ahead journal meets a file that cannot grow (the gateway's file size limit lowered
 * under it, as a full disk would): the gateway must fail closed — the statement whose record
 * could not be made durable never reaches the database, recorded sessions end, new ones are
 * refused — and once the file can grow again it must go on by itself, having lost nothing.
 */
describe('a write-ahead journal that cannot grow', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
    for (const table of ['journal_probe_normal', 'journal_probe_full']) {
      await h.cluster.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, pad text); GRANT ALL ON ${table} TO sync_writer`, 'records');
    }
  });
  after(async () => {
    await h.stop();
  });

  // sync: normal appends on the relay thread; sync: full through the thread pool, each synced: both fail alike.
  for (const sync of ['normal', 'full'] as const) {
    it(`fails closed while it cannot be written, goes on once it can, and loses nothing (sync: ${sync})`, { timeout: 90_000 }, async () => {
      await fillJournal(h, sync);
    });
  }
});

async function fillJournal(h: Harness, sync: 'normal' | 'full'): Promise<void> {
  const table = `journal_probe_${sync}`;
  const port = await freePort();
  const db = join(h.workDirectory, `journal-full-${sync}.db`);
  const { file, env } = h.writeConfigFile((d) => {
    d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
    d['recordings'] = { path: db, sync };
  });
  const gateway = await startIdgate(['serve', '--config', file], /gateway listening/, env);
  const pid = gateway.child.pid ?? 0;
  try {
    const token = await h.token();
    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client(pgOptions(h, token, { port }));
      client.on('error', () => undefined);
      await client.connect();
      return client;
    };
    const agent = await connect();
    await agent.query(`INSERT INTO ${table} (id) VALUES (1)`);
    await limitFileSize(pid, LIMIT_BYTES);

    // Writes fill the journal until one's record no longer fits: the session ends, that write unrun.
    let failedAt: number | undefined;
    for (let i = 2; i < 60 && failedAt === undefined; i++) {
      try {
        await agent.query(`INSERT INTO ${table} (id, pad) VALUES (${i}, '${PAD}')`);
      } catch {
        failedAt = i;
      }
    }
    assert.ok(
      failedAt !== undefined,
      `the journal reached the limit (${statSync(journalPath(db)).size} bytes, database ${statSync(db).size})`,
    );
    assert.ok(statSync(journalPath(db)).size <= LIMIT_BYTES);
    await until('the gateway to say it fails closed', () => gateway.output().includes('the write-ahead journal cannot be written'));
    // While it cannot be written, a recorded session is refused at login.
    await assert.rejects(connect());

    await limitFileSize(pid, 'unlimited');
    await until('the journal to be writable again', () => gateway.output().includes('the write-ahead journal is writable again'));
    let resumed: pg.Client | undefined;
    await until('a recorded session to be admitted again', async () => {
      resumed = await connect().catch(() => undefined);
      return resumed !== undefined;
    });
    await resumed?.query(`INSERT INTO ${table} (id) VALUES (1000)`);
    await resumed?.end();
    await agent.end().catch(() => undefined);

    // Killed, the journal it leaves must hold every record it counted durable, in an unbroken run:
    // a failed append taken for a good one would leave a gap that a crash turns into lost statements.
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    const journal = readJournal(readFileSync(journalPath(db)));
    assert.equal(journal.tornBytes, 0, 'no torn record: what a failed append left was cut off');
    const seqs = journal.batches.map((b) => b.journalSeq ?? NaN);
    assert.ok(seqs.length > failedAt, `records in the journal: ${seqs.length}`);
    assert.deepEqual(
      seqs.filter((seq, i) => i > 0 && seq !== (seqs[i - 1] ?? NaN) + 1),
      [],
      'journal records follow each other without a gap',
    );
    // Restarted, the gateway recovers what the killed one left; a clean stop writes everything.
    const restarted = await startIdgate(['serve', '--config', file], /gateway listening/, env);
    await new Promise((r) => setTimeout(r, 300));
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    // Every write acknowledged before the failure is there; the one whose record could not be made
    // durable never reached the database; the one after recovery did.
    const rows = (await h.cluster.sql(`SELECT id FROM ${table} ORDER BY id`, 'records')).split('\n').filter(Boolean);
    const expected = [...Array.from({ length: failedAt - 1 }, (_, k) => String(k + 1)), '1000'];
    assert.deepEqual(rows, expected, `the write at ${failedAt}, whose record failed, did not run`);
    const exported = await idgate(['export', '--db', db]);
    for (const id of rows) assert.match(exported.stdout, new RegExp(`VALUES \\(${id}[,)]`), `the INSERT of ${id} is in the log`);
    const verified = await idgate(['verify', '--db', db]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  } finally {
    gateway.child.kill('SIGKILL');
  }
}
