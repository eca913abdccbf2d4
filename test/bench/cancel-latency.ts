/**
 * How long a cancel takes to land, from the CancelRequest sent to the statement's error at the
 * client: sent to the node that holds the session, and sent to another node of the fleet, which
 * passes it on to its peer (one extra connection and hop). Both gateways run in this process, on
 * loopback, against one Postgres. Part of `npm run bench`.
 */
import pg from 'pg';
import { postgresProtocol } from '../../protocols/postgres/index.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { backendKey, sendCancel } from '../support/cancel-request.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

const CANCELS = Number(process.env['IDGATE_BENCH_CANCELS'] ?? 40);

/** Milliseconds from the CancelRequest to the statement's error, sent through `port`. */
async function cancelLatency(client: pg.Client, port: number): Promise<number> {
  let sent = 0n;
  const cancelled = client.query('SELECT pg_sleep(20)').then(
    () => {
      throw new Error('the statement was not cancelled');
    },
    () => Number(process.hrtime.bigint() - sent) / 1e6,
  );
  await new Promise((r) => setTimeout(r, 50));
  const key = backendKey(client);
  sent = process.hrtime.bigint();
  await sendCancel(port, key.processID, key.secretKey);
  return cancelled;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `median ${at(0.5).toFixed(2)} ms (p10 ${at(0.1).toFixed(2)}, p90 ${at(0.9).toFixed(2)}, ${sorted.length} cancels)`;
}

async function main(): Promise<void> {
  const h = await Harness.start({ nodeId: 'node-a' });
  const config = h.configWith((doc) => {
    doc['node-id'] = 'node-b';
    doc['recordings'] = { path: 'recordings/node-b.db' };
    doc['fleet'] = { peers: [`127.0.0.1:${h.port}`], 'peer-timeout-seconds': 1 };
  });
  const nodeB = await startGateway(config, postgresProtocol, { logger: createLogger('silent') });
  try {
    const client = new pg.Client(pgOptions(h, await h.token()));
    client.on('error', () => undefined);
    await client.connect();
    const direct: number[] = [];
    const viaPeer: number[] = [];
    // Alternating, so both see the same machine.
    for (let i = 0; i < CANCELS; i++) {
      direct.push(await cancelLatency(client, h.port));
      viaPeer.push(await cancelLatency(client, nodeB.port));
    }
    await client.end();
    process.stdout.write(`cancel, sent to the node holding the session: ${summary(direct)}\n`);
    process.stdout.write(`cancel, sent to another node and passed to its peer: ${summary(viaPeer)}\n`);
  } finally {
    await nodeB.shutdown();
    await h.stop();
  }
}

await main();
