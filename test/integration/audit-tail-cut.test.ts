import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { segmentEvents, type SegmentRow } from '../../src/audit/audit-reader.js';
import { journalPath } from '../../src/audit/journal-record.js';
import { freePort } from '../../src/dev/free-port.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A session open when its gateway dies, its newest events cut from the node's files before the
 * restart seals it (the seal, signed at the restart, then vouches for the shortened session). The
 * node's log alone cannot tell; the central store, which received those events before the crash,
 * can.
 */
describe('the tail of a session open at a crash, cut before the restart', () => {
  let h: Harness;
  let central: PostgresCluster;
  let centralUrl: string;
  before(async () => {
    h = await Harness.start();
    const store = await startCentralStore();
    central = store.cluster;
    centralUrl = store.ownerUrl;
  });
  after(async () => {
    await h.stop();
    await central.stop();
  });

  it('is named by verify on the central store as a tail cut before the restart sealed the session', async () => {
    const port = await freePort();
    const db = join(h.workDirectory, 'tail-cut.db');
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
      d['recordings'] = { path: db, central: { url: centralUrl } };
      d['node-id'] = 'tail-node';
    });
    const serve = (): ReturnType<typeof startIdgate> => startIdgate(['serve', '--config', file], /gateway listening/, env);
    const gateway = await serve();
    const client = new pg.Client(pgOptions(h, await h.token(), { port }));
    client.on('error', () => undefined);
    await client.connect();
    await client.query('SELECT 1 AS kept');
    await sleep(300); // a batch of its own: the cut below keeps it
    await client.query('SELECT 2 AS cut_away');
    await sleep(1500); // written locally and shipped
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    await client.end().catch(() => undefined);

    // The attacker, with the node's files: the newest segment of the open session goes, its row is set back to the one before.
    const local = new Database(db);
    const open = local.prepare('SELECT id FROM sessions WHERE seal_seq IS NULL').get() as { id: string };
    const segments = local.prepare('SELECT * FROM event_segments WHERE session_id = ? ORDER BY first_seq').all(open.id) as SegmentRow[];
    assert.ok(segments.length >= 2, `the session's events are in ${segments.length} segments`);
    const kept = segments[segments.length - 2] as SegmentRow;
    let lastHash = '';
    for (const e of segmentEvents(kept)) lastHash = e.hash;
    local.prepare('DELETE FROM event_segments WHERE session_id = ? AND first_seq > ?').run(open.id, kept.first_seq);
    local.prepare('UPDATE sessions SET event_count = ?, last_event_hash = ? WHERE id = ?').run(kept.last_seq, lastHash, open.id);
    local.close();
    // …and the journal's unapplied records, back to its header.
    const journal = readFileSync(journalPath(db));
    writeFileSync(journalPath(db), journal.subarray(0, journal.indexOf(0x0a) + 1));

    const restarted = await serve();
    await sleep(1500);
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);

    assert.equal((await idgate(['verify', '--db', db])).code, 0, 'the node’s own log cannot tell');
    const verified = await idgate(['verify', '--db', centralUrl]);
    assert.equal(verified.code, 1, verified.stdout);
    assert.match(
      verified.stdout,
      new RegExp(
        `TAMPERED \\(deleted\\) event ${open.id}#${kept.last_seq + 1} \\(node tail-node\\): the session was sealed at a restart with ${kept.last_seq} events, but event ${kept.last_seq + 1} had been recorded: its tail was cut before the restart sealed it`,
      ),
    );
  });
});
