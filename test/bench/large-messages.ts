/**
 * Part of `npm run bench`: what large messages do to the gateway's memory. A recorded session
 * (the recorder assembles each Query whole) from each of IDGATE_BENCH_LARGE_CLIENTS (default 8)
 * clients sends one Query of IDGATE_BENCH_LARGE_MB (default 40) MB at the same time; then one
 * client tries a 400 MB Query (over listen.max-message-bytes: refused at its header). The
 * gateway's resident set is read before, at its peak (VmHWM) and 5 s after the clients left, with
 * the default memory budget and with a small one, each in a fresh process.
 *
 *   node --import tsx test/bench/large-messages.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EntraSimulator } from '../../src/dev/entra-simulator.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { benchConnection, startGatewayProcess, stopProcess } from './bench-servers.js';

const CLIENTS = Number(process.env['IDGATE_BENCH_LARGE_CLIENTS'] ?? 8);
const MEGABYTES = Number(process.env['IDGATE_BENCH_LARGE_MB'] ?? 40);
const USER = 'bench_user';
const AUDIENCE = 'api://idgate-bench';

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'idgate-bench-large-'));
  const cluster = await PostgresCluster.start({ settings: { max_connections: '60' } });
  const entra = await EntraSimulator.start();
  try {
    const password = randomBytes(12).toString('hex');
    await cluster.sql(`CREATE ROLE ${USER} LOGIN PASSWORD '${password}'`);
    await cluster.sql(`CREATE DATABASE bench OWNER ${USER}`);
    writeFileSync(join(work, 'entra-ca.pem'), entra.caCert);
    const groupId = entra.directory.createGroup('bench-agents').id;
    const agent = await entra.directory.registerApplication({ displayName: 'bench-agent' });
    entra.directory.addMember(groupId, agent.objectId);
    const text = `SELECT length($$${'x'.repeat(MEGABYTES << 20)}$$)`;
    const oversize = `SELECT length($$${'x'.repeat(400 << 20)}$$)`;
    process.stdout.write(
      `\nlarge messages: ${CLIENTS} recorded sessions each send a ${MEGABYTES} MB Query at once, then one tries 400 MB\n`,
    );
    for (const budgetMb of [512, 64]) {
      const server = await startGatewayProcess(
        work,
        {
          listen: { 'allow-plaintext': true, 'memory-budget-bytes': budgetMb << 20 },
          entra: { 'tenant-id': entra.tenantId, audience: AUDIENCE, authority: entra.authority, ca: 'entra-ca.pem' },
          connections: [benchConnection(cluster, 'bench-db', USER)],
          'identity-map': [{ 'entra-group': groupId, connection: 'bench-db', scope: 'all', record: true }],
          recordings: { path: `audit-large-${budgetMb}.db` },
          log: { level: 'error' },
        },
        { BENCH_PASSWORD: password },
      );
      const pid = server.child.pid ?? 0;
      try {
        const connect = async (): Promise<pg.Client> => {
          const c = new pg.Client({
            host: '127.0.0.1',
            port: server.port,
            database: 'bench-db',
            user: USER,
            password: await entra.mint(entra.appClaims(agent, AUDIENCE)),
          });
          c.on('error', () => undefined);
          await c.connect();
          return c;
        };
        const warm = await connect();
        await warm.query('SELECT 1');
        await warm.end();
        await new Promise((r) => setTimeout(r, 500));
        const before = statusKb(pid, 'VmRSS');
        const clients = await Promise.all(Array.from({ length: CLIENTS }, connect));
        const started = performance.now();
        await Promise.all(clients.map((c) => c.query(text)));
        const seconds = (performance.now() - started) / 1000;
        const refused = await connect();
        const refusal = await refused.query(oversize).then(
          () => 'accepted',
          (e: Error & { code?: string }) => e.code ?? e.message,
        );
        await Promise.all([...clients, refused].map((c) => c.end().catch(() => undefined)));
        const peak = statusKb(pid, 'VmHWM');
        await new Promise((r) => setTimeout(r, 5000));
        const after = statusKb(pid, 'VmRSS');
        process.stdout.write(
          `  budget ${String(budgetMb).padStart(3)} MB: resident ${mb(before)} before, peak ${mb(peak)}, ${mb(after)} 5 s after; ${CLIENTS} × ${MEGABYTES} MB in ${seconds.toFixed(1)} s; 400 MB Query: ${refusal}\n`,
        );
      } finally {
        await stopProcess(server.child);
      }
    }
  } finally {
    await entra.stop();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
