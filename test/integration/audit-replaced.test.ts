import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { journalPath } from '../../src/audit/journal-record.js';
import { freePort } from '../../src/dev/free-port.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The local audit database removed while the gateway is down (or just before a restart): the new
 * one must not pass for a fresh install. The journal left beside it, or the central store, says
 * there was one, and the new database's origin names it — for good, across restarts.
 */
describe('an audit database removed between two runs of the gateway', () => {
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

  async function gatewayWith(
    db: string,
    nodeId: string,
    recordings: Record<string, unknown> = {},
  ): Promise<() => ReturnType<typeof startIdgate>> {
    const port = await freePort();
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
      d['recordings'] = { path: db, ...recordings };
      d['node-id'] = nodeId;
    });
    return () => startIdgate(['serve', '--config', file], /gateway listening/, env);
  }

  async function oneSession(port: number): Promise<void> {
    const client = new pg.Client(pgOptions(h, await h.token(), { port }));
    await client.connect();
    await client.query('SELECT 1 AS before_the_removal');
    await client.end();
  }

  const portOf = (output: string): number => Number(/"port":(\d+)/.exec(output)?.[1]);

  async function startAndStop(serve: () => ReturnType<typeof startIdgate>): Promise<string> {
    const gateway = await serve();
    await sleep(300);
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exited, 0);
    return gateway.output();
  }

  it('is reported as replacing the log its journal named, after any number of restarts', async () => {
    const db = join(h.workDirectory, 'journal-named.db');
    const serve = await gatewayWith(db, 'journal-node');
    const first = await serve();
    await oneSession(portOf(first.output()));
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(journalPath(db)), 'the dead gateway left its journal');
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });

    await startAndStop(serve);
    for (let run = 0; run < 2; run++) {
      const verified = await idgate(['verify', '--db', db]);
      assert.equal(verified.code, 1, verified.stdout);
      assert.match(
        verified.stdout,
        /TAMPERED \(discontinuity\) log origin: this database was begun .* by node journal-node in place of log \S+, removed or replaced \(the journal it left named it\); its chain heads are not known/,
      );
      await startAndStop(serve); // and again: the origin stays what it was
    }
  });

  it('is reported as replacing the log the central store holds for the node, continuing its chain heads there', async () => {
    const db = join(h.workDirectory, 'central-named.db');
    const serve = await gatewayWith(db, 'central-node', { central: { url: centralUrl } });
    const first = await serve();
    const port = portOf(first.output());
    await oneSession(port);
    // A second session still open when the gateway dies: centrally it can never be sealed now.
    const open = new pg.Client(pgOptions(h, await h.token(), { port }));
    open.on('error', () => undefined);
    await open.connect();
    await open.query('SELECT 2 AS open_at_the_removal');
    await sleep(1500); // shipped within about a second
    first.child.kill('SIGKILL');
    await first.exited;
    await open.end().catch(() => undefined);
    const head = /chain head (\S+)/.exec((await idgate(['verify', '--db', db])).stdout)?.[1];
    assert.ok(head !== undefined);
    // Everything beside the path goes, the journal too: only the central store remembers.
    for (const suffix of ['', '-wal', '-shm', '.write-ahead', '.lock']) rmSync(`${db}${suffix}`, { force: true });

    const restarted = await startAndStop(serve);
    assert.match(restarted, /the central store holds a log of this node: the new database records that it replaces it/);
    const verified = await idgate(['verify', '--db', db]);
    assert.equal(verified.code, 1, verified.stdout);
    assert.match(
      verified.stdout,
      new RegExp(
        `in place of log \\S+, removed or replaced \\(the central store holds it\\); it continues that one's chains from seal hash ${head.replace(/[+/]/g, '\\$&')}`,
      ),
    );
    const centrally = await idgate(['verify', '--db', centralUrl]);
    assert.match(
      centrally.stdout,
      /lost: session \S+ was open when this log's database was removed \(log \S+ replaced it\); it will not be sealed/,
    );
    assert.doesNotMatch(centrally.stdout, /open: session/);
  });

  it(
    'is reported as replacing the log removed under the running gateway (rm audit.db*, then a restart), naming its heads',
    { timeout: 60_000 },
    async () => {
      const db = join(h.workDirectory, 'removed-running.db');
      const serve = await gatewayWith(db, 'running-node');
      const gateway = await serve();
      const port = portOf(gateway.output());
      await oneSession(port);
      await sleep(300);
      const head = /chain head (\S+)/.exec((await idgate(['verify', '--db', db])).stdout)?.[1];
      assert.ok(head !== undefined);
      for (const suffix of ['', '-wal', '-shm', '.write-ahead', '.lock']) rmSync(`${db}${suffix}`, { force: true });
      // The next thing recorded finds the file gone: recording waits for an operator (on-replaced: wait).
      await oneSession(port).catch(() => undefined);
      await sleep(1000);
      gateway.child.kill('SIGTERM');
      await gateway.exited;
      assert.match(gateway.output(), /removed or replaced/);

      await startAndStop(serve);
      const verified = await idgate(['verify', '--db', db]);
      assert.equal(verified.code, 1, verified.stdout);
      assert.match(
        verified.stdout,
        new RegExp(
          `by node running-node in place of log \\S+, removed or replaced \\(the gateway it went under noticed\\); it continues that one's chains from seal hash ${head}`,
        ),
      );
      assert.ok(!existsSync(`${db}.replaced`), 'the note is gone once the new origin holds it');
    },
  );
});
