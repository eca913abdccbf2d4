import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { postgresProtocol } from '../../protocols/postgres/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { backendKey, CANCEL_REQUEST, PEER_CANCEL_REQUEST, sendCancel } from '../support/cancel-request.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

describe('cancels across the fleet', () => {
  let h: Harness;
  let nodeB: RunningGateway;
  const logB: string[] = [];
  before(async () => {
    h = await Harness.start({ nodeId: 'node-a' });
    // A second gateway of the same fleet, on its own port and audit database, with node A as its peer.
    const config = h.configWith((doc) => {
      doc['node-id'] = 'node-b';
      doc['recordings'] = { path: 'recordings/node-b.db' };
      doc['fleet'] = { peers: [`127.0.0.1:${h.port}`], 'peer-timeout-seconds': 1 };
    });
    nodeB = await startGateway(config, postgresProtocol, {
      logger: createLogger('info', { write: (line: string) => void logB.push(line) }),
    });
  });
  after(async () => {
    await nodeB.shutdown();
    await h.stop();
  });

  /** A session on node A running pg_sleep, with the key its client was given. */
  async function sleepingOnA(): Promise<{ client: pg.Client; key: { processID: number; secretKey: number }; outcome: Promise<string> }> {
    const client = new pg.Client(pgOptions(h, await h.token()));
    await client.connect();
    const key = backendKey(client);
    const outcome = client.query('SELECT pg_sleep(10)').then(
      () => 'finished',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await new Promise((r) => setTimeout(r, 300));
    return { client, key, outcome };
  }

  it('a CancelRequest that reaches another node cancels the query on the node that holds the session', async () => {
    const { client, key, outcome } = await sleepingOnA();
    const started = Date.now();
    await sendCancel(nodeB.port, key.processID, key.secretKey, CANCEL_REQUEST);
    assert.equal(await outcome, '57014');
    assert.ok(Date.now() - started < 5000);
    assert.ok(logB.some((l) => /"peers":1,"reached":1.*passed to the fleet/.test(l)));
    await client.end();
  });

  it('passes a request on one hop only: a peer’s request is acted on where the session is, or nowhere', async () => {
    const { client, key, outcome } = await sleepingOnA();
    // Node B does not hold the session; a peer's request is not passed on again (to node A).
    await sendCancel(nodeB.port, key.processID, key.secretKey, PEER_CANCEL_REQUEST);
    const early = await Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('still running'), 1000))]);
    assert.equal(early, 'still running');
    assert.ok(logB.some((l) => /"fromPeer":true.*unknown key ignored/.test(l)));
    // Node A holds it: a peer's request cancels there.
    await sendCancel(h.port, key.processID, key.secretKey, PEER_CANCEL_REQUEST);
    assert.equal(await outcome, '57014');
    await client.end();
  });

  it('a wrong secret cancels nothing, on any node', async () => {
    const { client, key, outcome } = await sleepingOnA();
    await sendCancel(nodeB.port, key.processID, key.secretKey ^ 1, CANCEL_REQUEST);
    await sendCancel(h.port, key.processID, key.secretKey ^ 1, CANCEL_REQUEST);
    const early = await Promise.race([outcome, new Promise<string>((r) => setTimeout(() => r('still running'), 1000))]);
    assert.equal(early, 'still running');
    await sendCancel(h.port, key.processID, key.secretKey, CANCEL_REQUEST);
    assert.equal(await outcome, '57014');
    await client.end();
    await h.assertNoLeaks();
  });
});
