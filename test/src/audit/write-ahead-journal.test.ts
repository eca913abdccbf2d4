import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readJournal } from '../../../src/audit/journal-record.js';
import { encodeJournalRecord } from '../../../src/audit/journal-record-encoder.js';
import { WriteAheadJournal, type JournalEvents, type JournalSource } from '../../../src/audit/write-ahead-journal.js';

/** A source whose records hold one login attempt each time something was "recorded". */
class Recorded implements JournalSource {
  unjournaled = false;
  record(): void {
    this.unjournaled = true;
  }
  cutRecord(seq: number): Buffer {
    this.unjournaled = false;
    return encodeJournalRecord(seq, { starts: [], ends: [], logins: [] }, []);
  }
}

function events(): JournalEvents & { slow: number[] } {
  const slow: number[] = [];
  return {
    slow,
    onFailure: () => undefined,
    onRecovered: () => undefined,
    requestFlush: () => undefined,
    onSlowAppend: (ms) => slow.push(ms),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'idgate-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function records(path: string): number {
  return readJournal(readFileSync(path)).batches.length;
}

describe('WriteAheadJournal', () => {
  it('with sync: normal, appends on the calling thread: a record cut is in the file (the page cache) on return', async () => {
    const path = join(dir, 'inline.journal');
    const source = new Recorded();
    const journal = await WriteAheadJournal.open(path, 'log-1', 0, { sync: false }, source, events());
    source.record();
    journal.cutNow();
    assert.equal(records(path), 1);
    let called = false;
    journal.afterDurable(() => (called = true));
    assert.equal(called, true, 'nothing unjournaled or under way: afterDurable calls back at once');
    await journal.close();
  });

  it('with sync: full, afterDurable calls back once the record is written and synced', async () => {
    const path = join(dir, 'full.journal');
    const source = new Recorded();
    const journal = await WriteAheadJournal.open(path, 'log-2', 0, { sync: true }, source, events());
    source.record();
    journal.cutNow();
    await new Promise<void>((resolve) => journal.afterDurable(resolve));
    assert.equal(records(path), 1);
    await journal.close();
  });

  it('after a slow append on the relay thread, sends the next appends to the thread pool, and says so', async () => {
    const path = join(dir, 'slow.journal');
    const source = new Recorded();
    const told = events();
    // Every append counts as slow here.
    const journal = await WriteAheadJournal.open(path, 'log-3', 0, { sync: false, slowAppendMs: -1 }, source, told);
    source.record();
    journal.cutNow();
    assert.equal(records(path), 1, 'the slow append itself completed');
    assert.equal(told.slow.length, 1);
    await new Promise<void>((resolve) => journal.afterDurable(resolve));
    const order: number[] = [];
    source.record();
    journal.cutNow();
    source.record();
    const both = [1, 2].map((i) => new Promise<void>((resolve) => journal.afterDurable(() => resolve(void order.push(i)))));
    await Promise.all(both);
    assert.deepEqual(order, [1, 2], 'waiters are released in the order they asked');
    assert.equal(records(path), 3, 'one record per cut, none lost or doubled');
    assert.equal(told.slow.length, 1, 'the next appends went through the thread pool (on this thread, each would count as slow)');
    await journal.close();
  });

  it('releases each waiter once its own record is durable, keeping those that wait for a later one, and those added meanwhile', async () => {
    const path = join(dir, 'partial.journal');
    const source = new Recorded();
    // sync: full appends through the thread pool: the second record is cut while the first is under way.
    const journal = await WriteAheadJournal.open(path, 'log-5', 0, { sync: true }, source, events());
    const released: string[] = [];
    let third: Promise<void> | undefined;
    source.record();
    const first = new Promise<void>((resolve) =>
      journal.afterDurable(() => {
        released.push(`1 (2 released: ${released.includes('2')})`);
        source.record();
        third = new Promise<void>((done) => journal.afterDurable(() => done(void released.push('3'))));
        resolve();
      }),
    );
    journal.cutNow();
    source.record();
    const second = new Promise<void>((resolve) => journal.afterDurable(() => resolve(void released.push('2'))));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still waiting after ${released.join(', ')}`)), 3000);
    });
    await Promise.race([Promise.all([first, second]), timeout]);
    await Promise.race([third, timeout]);
    clearTimeout(timer);
    assert.deepEqual(released, ['1 (2 released: false)', '2', '3']);
    assert.equal(records(path), 3);
    assert.deepEqual(journal.counts, { appends: 3, waits: 3 });
    await journal.close();
  });

  it('groups what several sessions record in one turn into one record (group commit)', async () => {
    const path = join(dir, 'group.journal');
    const source = new Recorded();
    const journal = await WriteAheadJournal.open(path, 'log-4', 0, { sync: false }, source, events());
    const released: number[] = [];
    const waits = [1, 2, 3].map((i) => {
      source.record();
      return new Promise<void>((resolve) => journal.afterDurable(() => resolve(void released.push(i))));
    });
    assert.deepEqual(released, [], 'nothing is released in the turn it was recorded');
    await Promise.all(waits);
    assert.deepEqual(released, [1, 2, 3]);
    assert.equal(records(path), 1, 'one record for the three');
    assert.deepEqual(journal.counts, { appends: 1, waits: 3 }, 'one append served the three waits');
    await journal.close();
  });

  it("a cut asked for mid-turn (a batch filled up) releases nothing from inside the caller; from the turn's cut, waiters that re-enter the journal are each served once, after their record", async () => {
    const path = join(dir, 'reentry.journal');
    const source = new Recorded();
    const journal = await WriteAheadJournal.open(path, 'log-6', 0, { sync: false }, source, events());
    let early = false;
    source.record();
    const waited = new Promise<void>((resolve) =>
      journal.afterDurable(() => {
        early = true;
        resolve();
      }),
    );
    journal.cutNow();
    assert.equal(early, false, 'the caller may be mid-frame: its held frames must not be forwarded from inside it');
    await waited;
    // The turn's cut: a callback that records, cuts and waits again (re-entering the journal) is served once, and each
    // waiter only once the file holds its record (records on disk, seen from inside each callback).
    const released: string[] = [];
    const all = await new Promise<string[]>((resolve) => {
      const done = (): void => {
        if (released.length === 3) resolve(released);
      };
      source.record();
      journal.afterDurable(() => {
        released.push(`a ${records(path)}`);
        source.record();
        journal.cutNow();
        journal.afterDurable(() => {
          released.push(`c ${records(path)}`);
          done();
        });
        done();
      });
      source.record();
      journal.afterDurable(() => {
        released.push(`b ${records(path)}`);
        done();
      });
    });
    await new Promise((resolve) => setImmediate(resolve));
    // c may come before b: its record is durable when it asks, and the journal promises durability, not an order between sessions.
    assert.deepEqual(all.map((r) => r[0]).sort(), ['a', 'b', 'c'], 'each once');
    const needs: Record<string, number> = { a: 2, b: 2, c: 3 };
    for (const r of all) {
      assert.ok(Number(r.slice(2)) >= (needs[r[0] ?? ''] ?? Infinity), `${r}: released before its record was in the file`);
    }
    assert.equal(records(path), 3, 'one record per cut, none lost or doubled');
    assert.deepEqual(journal.counts, { appends: 3, waits: 3 }, 'c asked once its record was durable: it did not wait');
    await journal.close();
  });
});
