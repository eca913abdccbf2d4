import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { cancelThrough } from '../support/cancel-request.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The fleet as the issue draws it: three nodes — two workers of one `idgate serve` and one
 * standalone gateway — in front of one upstream, shipping to one central PostgreSQL, each the
 * other's fleet peer. A DBA reads every node's sessions from the central store, shows and replays
 * them from there, and verifies each node's log; a cancel sent to the wrong node lands.
 */
describe('a fleet of three nodes: two workers and a standalone gateway, one central audit store', () => {
  let central: PostgresCluster;
  let solo: Harness;
  let box: Awaited<ReturnType<typeof startIdgate>>;
  let boxPort: number;
  let centralUrl: string;

  before(async () => {
    const store = await startCentralStore();
    central = store.cluster;
    centralUrl = store.ownerUrl;
    const ship = { url: store.writerUrl };
    boxPort = await freePort();
    solo = await Harness.start({
      nodeId: 'solo',
      recordings: { central: ship },
      fleet: { peers: [`127.0.0.1:${boxPort}`], 'peer-timeout-seconds': 1 },
    });
    const { file, env } = solo.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port: boxPort, workers: 2 };
      d['recordings'] = { path: join(solo.workDirectory, 'box.db'), central: ship };
      d['node-id'] = 'box';
      d['fleet'] = { peers: [`127.0.0.1:${solo.port}`], 'peer-timeout-seconds': 1 };
    });
    box = await startIdgate(['serve', '--config', file], /gateway listening[\s\S]*gateway listening/, env);
  });
  after(async () => {
    if (box !== undefined && box.child.exitCode === null) {
      box.child.kill('SIGTERM');
      await box.exited;
    }
    await solo?.stop();
    await central?.stop();
  });

  async function client(port: number): Promise<pg.Client> {
    const c = new pg.Client(pgOptions(solo, await solo.token(), { port }));
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  async function centralSessions(): Promise<{ id: string; node: string; endReason: string | null }[]> {
    const r = await idgate(['sessions', '--json', '--db', centralUrl]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() === ''
      ? []
      : r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { id: string; node: string; endReason: string | null });
  }

  it('puts every node’s sessions in the central store, where show, replay --execute and verify work for each', async () => {
    for (const port of [boxPort, boxPort, solo.port]) {
      const c = await client(port);
      await c.query("SELECT count(*) FROM records WHERE title LIKE 'record 1%'");
      await c.end();
    }
    let sessions: Awaited<ReturnType<typeof centralSessions>> = [];
    for (let i = 0; i < 50; i++) {
      sessions = await centralSessions();
      if (new Set(sessions.filter((s) => s.endReason !== null).map((s) => s.node)).size === 3) break;
      await sleep(200);
    }
    const byNode = new Map(sessions.map((s) => [s.node, s]));
    assert.deepEqual([...byNode.keys()].sort(), ['box:w1', 'box:w2', 'solo']);
    const target = `postgresql://sync_writer:${solo.passwords['sync_writer']}@127.0.0.1:${solo.cluster.port}/records`;
    for (const [node, s] of byNode) {
      const shown = await idgate(['show', s.id, '--db', centralUrl]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /record 1%/, `show, node ${node}`);
      const replayed = await idgate(['replay', s.id, '--execute', '--target', target, '--no-wait', '--yes-i-mean-it', '--db', centralUrl]);
      assert.equal(replayed.code, 0, `replay, node ${node}: ${replayed.stdout}${replayed.stderr}`);
      assert.match(replayed.stdout, /1 of 1 statements replayed with the same outcome/);
    }
    const verified = await idgate(['verify', '--db', centralUrl]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /ok: 3 node logs/);
  });

  it('cancels a statement whichever node the CancelRequest reaches', async () => {
    const onSolo = await client(solo.port);
    const onBox = await client(boxPort);
    // Each cancel goes to a node that does not hold the session: solo's to the workers, the workers' session's to solo.
    for (const [session, wrongPort] of [
      [onSolo, boxPort],
      [onBox, solo.port],
      [onSolo, boxPort],
      [onBox, solo.port],
    ] as const) {
      assert.equal(await cancelThrough(session, wrongPort), '57014');
    }
    await onSolo.end();
    await onBox.end();
  });
});
