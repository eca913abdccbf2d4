import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DEFAULT_CANCEL_GUESSES_PER_MINUTE } from '../../src/session/cancel-guard.js';
import { backendKey, sendCancel } from '../support/cancel-request.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

/** Someone who reaches the port and guesses cancel keys, as fast as they can. */
describe('cancel-key guessing', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h.stop();
  });

  it('is limited per source: past the limit even the right key is dropped, counted in /metrics and summarised in the audit log', async () => {
    const victim = new pg.Client(pgOptions(h, await h.token()));
    await victim.connect();
    const key = backendKey(victim);
    const guesses = DEFAULT_CANCEL_GUESSES_PER_MINUTE + 10;
    for (let i = 1; i <= guesses; i++) await sendCancel(h.port, key.processID, key.secretKey ^ i);
    const running = victim.query('SELECT pg_sleep(3)').then(
      () => 'finished',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await new Promise((r) => setTimeout(r, 200));
    // The right key now, from the same source: a guesser's lucky try is dropped unread like the rest.
    await sendCancel(h.port, key.processID, key.secretKey);
    assert.equal(await running, 'finished');
    await victim.end();

    const metrics = await h.gateway.services.metrics.text();
    assert.match(
      metrics,
      new RegExp(`idgate_cancel_requests_total\\{[^}]*result="unknown-key"[^}]*\\} ${DEFAULT_CANCEL_GUESSES_PER_MINUTE}\\b`),
    );
    assert.match(metrics, /idgate_cancel_requests_total\{[^}]*result="dropped"[^}]*\} 11\b/);
    // The summary is written when the minute ends, or when the gateway stops.
    const db = h.gateway.services.config.recordingsPath;
    await h.gateway.shutdown();
    const reader = new Database(db, { readonly: true });
    const notes = reader.prepare("SELECT client_address, message FROM login_attempts WHERE reason = 'cancel-unknown-key'").all() as {
      client_address: string;
      message: string;
    }[];
    reader.close();
    assert.equal(notes.length, 1);
    assert.match(notes[0]?.client_address ?? '', /127\.0\.0\.1/);
    assert.match(
      notes[0]?.message ?? '',
      new RegExp(
        `^${DEFAULT_CANCEL_GUESSES_PER_MINUTE} CancelRequests with keys this gateway did not issue within a minute, and 11 more dropped`,
      ),
    );
  });
});
