import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseAnchorLines } from '../../src/audit/anchor-record.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** recordings.anchor: the gateway anchors its own log on a schedule, and once more as it stops. */
describe('a gateway anchoring its own log', () => {
  let h: Harness;
  let anchors: string;
  before(async () => {
    h = await Harness.start({ recordings: { anchor: { to: 'anchors.jsonl', 'every-minutes': 0.01 } } });
    anchors = join(h.workDirectory, 'anchors.jsonl');
  });
  after(async () => {
    await h.stop();
  });

  it('anchors what it committed every interval and at its stop, and verify --anchors then catches its newest session cut', async () => {
    const client = new pg.Client(pgOptions(h, await h.token()));
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    await sleep(1500);
    const during = parseAnchorLines(readFileSync(anchors, 'utf8')).anchors;
    assert.ok(
      during.some((a) => a.sealSeq >= 1 && a.loginSeq >= 1),
      JSON.stringify(during),
    );
    const count = during.length;
    await sleep(1500);
    assert.equal(parseAnchorLines(readFileSync(anchors, 'utf8')).anchors.length, count, 'nothing new, no new anchor');

    const db = h.gateway.services.config.recordingsPath;
    await h.gateway.shutdown();
    assert.equal((await idgate(['verify', '--db', db, '--anchors', anchors])).code, 0);
    const file = new Database(db);
    const newest = file.prepare('SELECT id FROM sessions ORDER BY seal_seq DESC LIMIT 1').get() as { id: string };
    file.prepare('DELETE FROM event_segments WHERE session_id = ?').run(newest.id);
    file.prepare('DELETE FROM sessions WHERE id = ?').run(newest.id);
    file.prepare('DELETE FROM login_attempts WHERE session_id = ?').run(newest.id);
    file.close();
    const cut = await idgate(['verify', '--db', db, '--anchors', anchors]);
    assert.equal(cut.code, 1, cut.stdout);
    assert.match(cut.stdout, /TAMPERED \(deleted\) anchor of .*: the log had reached seal \d+ then, and now ends at \d+/);
  });
});
