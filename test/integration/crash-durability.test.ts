import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const CLIENTS = 4;
const LOAD_MS = 1500;

/**
 * The gateway as an operator runs it — its own process — killed with SIGKILL under an insert load
 * on four connections, then restarted. What a crash may lose is measured, not assumed: every row
 * the database holds must have its INSERT in the audit log.
 */
describe('a gateway killed with SIGKILL', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
    await h.cluster.sql('CREATE TABLE crash_probe (id bigint PRIMARY KEY); GRANT ALL ON crash_probe TO sync_writer', 'records');
  });
  after(async () => {
    await h.stop();
  });

  it('loses no statement that reached the database (write-ahead recording), and the log verifies after the restart', async (t) => {
    const port = await freePort();
    const db = join(h.workDirectory, 'crash.db');
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
      d['recordings'] = { path: db };
      d['node-id'] = 'crash-node';
    });
    const serve = (): ReturnType<typeof startIdgate> => startIdgate(['serve', '--config', file], /gateway listening/, env);
    const gateway = await serve();

    const token = await h.token();
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const client = new pg.Client(pgOptions(h, token, { port }));
        client.on('error', () => undefined);
        await client.connect();
        return client;
      }),
    );
    let acknowledged = 0;
    const load = clients.map(async (client, c) => {
      for (let i = 0; ; i++) {
        // Simple and extended protocol alike: the log must hold both.
        const id = c * 1_000_000 + i;
        try {
          if (c % 2 === 0) await client.query(`INSERT INTO crash_probe (id) VALUES (${id})`);
          else await client.query({ text: 'INSERT INTO crash_probe (id) VALUES ($1)', values: [id] });
        } catch {
          return;
        }
        acknowledged += 1;
      }
    });
    await new Promise((r) => setTimeout(r, LOAD_MS));
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    await Promise.all(load);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));

    // Restarted, the gateway seals what the dead process left open; a clean stop writes everything.
    const restarted = await serve();
    await new Promise((r) => setTimeout(r, 300));
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    const recovery = restarted.output().split('\n').find((l) => l.includes('write-ahead journal'));
    t.diagnostic(`restart: ${recovery ?? 'nothing to recover from the journal'}`);

    const rows = (await h.cluster.sql('SELECT id FROM crash_probe ORDER BY id', 'records')).split('\n').filter(Boolean);
    assert.ok(rows.length >= acknowledged && acknowledged > 100, `a real load ran: ${acknowledged} acknowledged, ${rows.length} rows`);

    const listed = await idgate(['sessions', '--json', '--db', db]);
    assert.equal(listed.code, 0, listed.stderr);
    const sessions = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; endReason: string; node: string });
    assert.equal(sessions.length, CLIENTS);
    for (const s of sessions) {
      assert.equal(s.endReason, 'gateway-lost', `a session the dead process left open is sealed with its own end reason: ${JSON.stringify(sessions)}`);
      assert.equal(s.node, 'crash-node');
    }
    const logged = new Set<string>();
    for (const s of sessions) {
      const shown = await idgate(['show', s.id, '--json', '--db', db]);
      assert.equal(shown.code, 0, shown.stderr);
      for (const line of shown.stdout.trim().split('\n')) {
        const event = JSON.parse(line) as { type?: string; sql?: string; params?: ({ text: string } | null)[] };
        if (event.type !== 'statement' || event.sql === undefined) continue;
        const literal = /VALUES \((\d+)\)/.exec(event.sql)?.[1];
        const id = literal ?? event.params?.[0]?.text;
        if (id !== undefined) logged.add(id);
      }
    }
    const missing = rows.filter((id) => !logged.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${rows.length} committed inserts are missing from the audit log`);
    t.diagnostic(`${rows.length} committed inserts (${acknowledged} acknowledged), all in the audit log`);

    const verified = await idgate(['verify', '--db', db]);
    assert.equal(verified.code, 0, `verify after a crash: ${verified.stdout}${verified.stderr}`);
  });
});
