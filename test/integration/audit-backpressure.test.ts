import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

describe('a slow audit writer holds recorded clients back', () => {
  let h: Harness;
  before(async () => {
    // Tiny limits so a handful of round trips fill the writer's queue.
    h = await Harness.start({ auditLimits: { highWater: 6, lowWater: 1, highWaterBytes: 1 << 30, lowWaterBytes: 1 << 30 } });
  });
  after(async () => {
    await h.stop();
  });

  it('stops reading the client while the writer is behind, then carries on with nothing lost', async () => {
    const client = new pg.Client(pgOptions(h, await h.token()));
    await client.connect();
    await h.gateway.services.audit.flushed();
    const blocker = new Database(h.config.recordingsPath);
    blocker.exec('BEGIN IMMEDIATE'); // the writer waits (shorter than its busy timeout: no failure)
    let done = 0;
    const all = (async () => {
      for (let i = 0; i < 40; i++) {
        await client.query(`SELECT ${i}`);
        done += 1;
      }
    })();
    await new Promise((r) => setTimeout(r, 400));
    const whileHeld = done;
    blocker.exec('COMMIT');
    blocker.close();
    await all;
    assert.ok(whileHeld < 10, `${whileHeld} queries ran while the writer was held up`);
    assert.equal(done, 40);
    assert.equal(h.gateway.services.audit.healthy, true);
    await client.end();
  });
});
