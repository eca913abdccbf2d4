import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const CLIENTS = 4;
/** Kills under load, each followed by a restart that recovers what the killed process left. */
const ROUNDS = 10;
const LOAD_MS = 600;

async function listSessions(source: string): Promise<{ id: string; endReason: string; node: string }[]> {
  const listed = await idgate(['sessions', '--json', '--db', source]);
  assert.equal(listed.code, 0, listed.stderr);
  return listed.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: string; endReason: string; node: string });
}

/** The ids whose INSERT the log holds, from each Query's literal or each Bind's first parameter (one `export` of the whole log). */
async function loggedIds(source: string): Promise<Set<string>> {
  const exported = await idgate(['export', '--db', source]);
  assert.equal(exported.code, 0, exported.stderr);
  const logged = new Set<string>();
  for (const line of exported.stdout.trim().split('\n')) {
    const row = JSON.parse(line) as {
      type: string;
      direction?: string;
      messages?: { kind: string; sql?: string; params?: ({ text?: string } | null)[] }[];
    };
    if (row.type !== 'event' || row.direction !== 'client') continue;
    for (const m of row.messages ?? []) {
      const id = m.kind === 'Query' ? /VALUES \((\d+)\)/.exec(m.sql ?? '')?.[1] : m.kind === 'Bind' ? m.params?.[0]?.text : undefined;
      if (id !== undefined) logged.add(id);
    }
  }
  return logged;
}

/**
 * The gateway as an operator runs it — its own process — killed with SIGKILL under an insert load
 * on four connections, then restarted, ten times over (each start recovers what the last one left). What a crash may lose is measured, not assumed: every row
 * the database holds must have its INSERT in the audit log.
 */
describe('a gateway killed with SIGKILL', () => {
  let h: Harness;
  let central: PostgresCluster;
  let centralUrl: string;
  before(async () => {
    h = await Harness.start();
    await h.cluster.sql('CREATE TABLE crash_probe (id bigint PRIMARY KEY); GRANT ALL ON crash_probe TO sync_writer', 'records');
    const store = await startCentralStore();
    central = store.cluster;
    centralUrl = store.ownerUrl;
  });
  after(async () => {
    await h.stop();
    await central.stop();
  });

  it(
    'loses no statement that reached the database (write-ahead recording), locally or centrally, and both logs verify after the restart',
    { timeout: 150_000 },
    async (t) => {
      const port = await freePort();
      const db = join(h.workDirectory, 'crash.db');
      // Signed, as production runs: the journal carries the key's MACs and recovery checks them.
      const keyFile = join(h.workDirectory, 'crash-node.pem');
      const made = await idgate(['keygen', '--out', keyFile]);
      const publicKey = made.stdout.split('\n')[0] ?? '';
      const { file, env } = h.writeConfigFile((d) => {
        d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
        d['recordings'] = { path: db, central: { url: centralUrl }, 'signing-key-file': keyFile };
        d['node-id'] = 'crash-node';
      });
      const serve = (): ReturnType<typeof startIdgate> => startIdgate(['serve', '--config', file], /gateway listening/, env);
      const token = await h.token();
      let acknowledged = 0;
      const recoveries: string[] = [];
      /** Why a round's gateway failed closed, from its own log, if it did (then it ended its recorded sessions itself). */
      const failedClosed: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const gateway = await serve();
        if (round > 0) {
          recoveries.push(gateway.output().includes('recovered what a process that died had recorded') ? 'recovered' : 'nothing');
        }
        const clients = await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            const client = new pg.Client(pgOptions(h, token, { port }));
            client.on('error', () => undefined);
            await client.connect();
            return client;
          }),
        );
        const load = clients.map(async (client, c) => {
          for (let i = 0; ; i++) {
            // Simple and extended protocol alike: the log must hold both.
            const id = round * 10_000_000 + c * 1_000_000 + i;
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
        failedClosed.push(
          ...gateway
            .output()
            .split('\n')
            .filter((l) => l.includes('failing closed')),
        );
        await Promise.all(load);
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      }

      // Restarted, the gateway seals what the dead process left open; a clean stop writes everything.
      const restarted = await serve();
      await new Promise((r) => setTimeout(r, 300));
      restarted.child.kill('SIGTERM');
      assert.equal(await restarted.exited, 0);
      const recovery = restarted
        .output()
        .split('\n')
        .find((l) => l.includes('write-ahead journal'));
      t.diagnostic(
        `restarts after the first ${ROUNDS - 1} kills: ${recoveries.join(', ')}; after the last: ${recovery ?? 'nothing to recover'}`,
      );

      const rows = (await h.cluster.sql('SELECT id FROM crash_probe ORDER BY id', 'records')).split('\n').filter(Boolean);
      assert.ok(
        rows.length >= acknowledged && acknowledged > 100 * ROUNDS,
        `a real load ran: ${acknowledged} acknowledged, ${rows.length} rows`,
      );

      // The node's own log, and the central store it shipped to (the clean stop's last pass, or the restart, sent the rest).
      for (const source of [db, centralUrl]) {
        const where = source === db ? 'the local log' : 'the central store';
        const sessions = await listSessions(source);
        assert.equal(sessions.length, CLIENTS * ROUNDS, where);
        for (const s of sessions) {
          // A gateway that failed closed before its kill (its log says why) ended its recorded sessions itself.
          const endedByFailClosed = s.endReason === 'audit-unavailable' && failedClosed.length > 0;
          assert.ok(
            s.endReason === 'gateway-lost' || endedByFailClosed,
            `${where}: a session the dead process left open is sealed with its own end reason: ${JSON.stringify(s)}`,
          );
          assert.equal(s.node, 'crash-node');
        }
        if (failedClosed.length > 0) t.diagnostic(`a gateway failed closed before its kill: ${failedClosed.join(' | ')}`);
        const logged = await loggedIds(source);
        const missing = rows.filter((id) => !logged.has(id));
        assert.deepEqual(missing.slice(0, 10), [], `${where}: ${missing.length} of ${rows.length} committed inserts are missing`);
        t.diagnostic(`${where}: ${rows.length} committed inserts (${acknowledged} acknowledged), all there`);
        const verified = await idgate(['verify', '--db', source, '--trusted-key', `crash-node=${publicKey}`]);
        assert.equal(verified.code, 0, `verify ${where} after a crash: ${verified.stdout}${verified.stderr}`);
      }
    },
  );
});
