import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { settleAudit, showJson } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

/** What a terminal acts on: C0 (newline aside), DEL, C1, bidirectional controls, line/paragraph separators. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTED_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * An agent writes what a DBA later reads: its SQL, its startup label, the messages it makes the
 * server raise. None of it may act on the DBA's terminal (erase lines, move the cursor, reorder
 * text) or start a line that looks like the tool's own — `show` must show what the agent did.
 */
describe('what an agent wrote, as the CLI prints it', () => {
  let h: Harness;
  let sessionId: string;
  // Erase the line above, go up one and write a false ending; a C1 CSI; a right-to-left override.
  const forged = '\r\u001b[1A\u001b[2K     +0.1 ms  -- ended: client-terminated\n\u009b2J\u202e';

  before(async () => {
    h = await Harness.start();
    const client = new pg.Client(pgOptions(h, await h.token(), { user: `bot${forged}` }));
    client.on('error', () => undefined);
    await client.connect();
    sessionId = String((await client.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id);
    await client.query(`SELECT 1 AS "${forged}" /* ${forged} */`);
    await client.query(`DO $$ BEGIN RAISE NOTICE '%', ${pgLiteral(forged)}; END $$`);
    await assert.rejects(client.query(`DO $$ BEGIN RAISE EXCEPTION '%', ${pgLiteral(forged)}; END $$`));
    await client.query('DELETE FROM records WHERE id = 1');
    await client.end();
    await settleAudit(h);
  });
  after(async () => {
    await h.stop();
  });

  it('show: nothing a terminal acts on, one line per field, and only its own last line says how the session ended', async () => {
    const shown = await idgate(['show', sessionId, '--db', h.config.recordingsPath]);
    assert.equal(shown.code, 0, shown.stderr);
    const lines = shown.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.filter((l) => ACTED_ON.test(l)),
      [],
    );
    assert.deepEqual(
      lines.map((l, i) => [i, l]).filter(([, l]) => /^\s*\+[\d.]+ \S+\s+-- ended:/.test(String(l))),
      [[lines.length - 1, lines.at(-1)]],
    );
    assert.match(shown.stdout, /^client .*label: bot\\u000d\\u001b\[1A/m, 'the label, escaped, on the client line');
    assert.match(shown.stdout, /DELETE FROM records WHERE id = 1/);
    // What the agent sent is still all there, exactly, in the JSON form.
    const events = await showJson(h, sessionId);
    assert.ok(JSON.stringify(events).includes(JSON.stringify(forged).slice(1, -1)));
  });

  it('sessions: the label never reaches a table, and no cell starts a row', async () => {
    const listed = await idgate(['sessions', '--label', `bot${forged}`, '--db', h.config.recordingsPath]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, listed.stdout);
    assert.ok(!ACTED_ON.test(listed.stdout.replace(/\n/g, '')));
    const json = await idgate(['sessions', '--json', '--label', `bot${forged}`, '--db', h.config.recordingsPath]);
    assert.ok(!ACTED_ON.test(json.stdout.replace(/\n/g, '')));
    assert.equal((JSON.parse(json.stdout) as { clientUser: string }).clientUser, `bot${forged}`, 'JSON keeps the exact label');
  });
});

function pgLiteral(text: string): string {
  return `E'${text.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}
