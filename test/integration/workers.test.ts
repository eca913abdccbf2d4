import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/dev/free-port.js';
import { cancelThrough } from '../support/cancel-request.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `listen.workers: 2`: one `idgate serve` whose two worker processes share the port, each a fleet
 * node with its own local audit database; cancels reach the right worker whichever one they land on.
 */
describe('a gateway with two workers', () => {
  let h: Harness;
  let gateway: Awaited<ReturnType<typeof startIdgate>>;
  let port: number;
  let adminPort: number;
  let db: string;
  let configFile: string;
  let configEnv: Record<string, string>;

  before(async () => {
    h = await Harness.start();
    port = await freePort();
    adminPort = await freePort();
    db = join(h.workDirectory, 'box.db');
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port, workers: 2 };
      d['recordings'] = { path: db };
      d['node-id'] = 'box';
      d['admin'] = { port: adminPort };
    });
    configFile = file;
    configEnv = env;
    gateway = await startIdgate(['serve', '--config', file], /gateway listening[\s\S]*gateway listening/, env);
  });
  after(async () => {
    if (gateway.child.exitCode === null) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await h.stop();
  });

  const lines = (pattern: RegExp): string[] =>
    gateway
      .output()
      .split('\n')
      .filter((l) => pattern.test(l));

  it('spreads sessions over both workers, each recording as its own node in its own database', async () => {
    const clients: pg.Client[] = [];
    for (let i = 0; i < 4; i++) {
      const c = new pg.Client(pgOptions(h, await h.token(), { port }));
      await c.connect();
      await c.query(`SELECT ${i} AS spread`);
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.end()));
    const nodes = new Set(lines(/session started/).map((l) => (JSON.parse(l) as { node: string }).node));
    assert.deepEqual([...nodes].sort(), ['box:w1', 'box:w2']);
    await sleep(500);
    for (const w of [1, 2]) {
      const listed = await idgate(['sessions', '--json', '--db', join(h.workDirectory, `box-w${w}.db`)]);
      assert.equal(listed.code, 0, listed.stderr);
      const sessions = listed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { node: string });
      assert.ok(sessions.length >= 1 && sessions.every((s) => s.node === `box:w${w}`), `worker ${w}: ${listed.stdout}`);
    }
  });

  it('cancels the right statement whichever worker the CancelRequest lands on', async () => {
    const one = new pg.Client(pgOptions(h, await h.token(), { port }));
    const two = new pg.Client(pgOptions(h, await h.token(), { port }));
    await one.connect();
    await two.connect();
    // Connections alternate between the workers, cancels included: this order lands some on the wrong one.
    for (const client of [one, one, two, two]) {
      assert.equal(await cancelThrough(client, port), '57014', 'the statement was cancelled');
    }
    await one.end();
    await two.end();
    assert.ok(lines(/passed to the sibling worker that holds the session/).length >= 1, 'at least one cancel went through a sibling');
  });

  it('serves one admin endpoint for both workers: their sessions, their metrics by node, a terminate wherever the session is', async () => {
    const clients: pg.Client[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const c = new pg.Client(pgOptions(h, await h.token(), { port }));
      c.on('error', () => undefined);
      await c.connect();
      ids.push(String((await c.query("SELECT current_setting('idgate.session_id') AS id")).rows[0].id));
      clients.push(c);
    }
    const base = `http://127.0.0.1:${adminPort}`;
    // No token configured, so loopback is the only check: a page rebound to 127.0.0.1 (DNS rebinding) still sends its own Host.
    const { request } = await import('node:http');
    const rebound = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: adminPort, path: '/sessions', headers: { host: `attacker.example:${adminPort}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(rebound, 403);
    const listed = (await (await fetch(`${base}/sessions`)).json()) as { sessions: { id: string; node: string }[] };
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), [...ids].sort());
    assert.deepEqual([...new Set(listed.sessions.map((s) => s.node))].sort(), ['box:w1', 'box:w2']);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const node of ['box:w1', 'box:w2']) {
      assert.match(metrics, new RegExp(`idgate_client_active_connections\\{[^}]*node="${node}"[^}]*\\} 2`));
    }
    assert.equal(metrics.match(/^# TYPE idgate_queries_total /gm)?.length, 1, 'one exposition, not one per worker');
    const ready = (await (await fetch(`${base}/readyz`)).json()) as { ready: boolean; checks: { name: string }[] };
    assert.equal(ready.ready, true);
    assert.ok(ready.checks.some((c) => c.name === 'box:w1 audit-log') && ready.checks.some((c) => c.name === 'box:w2 audit-log'));
    // Terminate one session on each worker through the CLI, which reads the admin section of the config.
    const onW2 = listed.sessions.find((s) => s.node === 'box:w2')?.id ?? '';
    const onW1 = listed.sessions.find((s) => s.node === 'box:w1')?.id ?? '';
    for (const id of [onW1, onW2]) {
      const r = await idgate(['terminate', id, '--config', configFile], configEnv);
      assert.equal(r.code, 0, r.stderr);
    }
    await sleep(300);
    const left = (await (await fetch(`${base}/sessions`)).json()) as { sessions: { id: string }[] };
    assert.deepEqual(left.sessions.map((s) => s.id).sort(), ids.filter((id) => id !== onW1 && id !== onW2).sort());
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  });

  it('reloads every worker on SIGHUP and drains them all on SIGTERM', async () => {
    gateway.child.kill('SIGHUP');
    for (let i = 0; i < 50 && lines(/configuration reloaded/).length < 2; i++) await sleep(100);
    assert.equal(lines(/configuration reloaded/).length, 2);
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exited, 0);
    assert.equal(lines(/gateway stopped/).length, 2, 'both workers drained and stopped');
  });
});
