/**
 * Part of `npm run bench`: what an open, idle session costs in memory — the resident set of the
 * gateway, of the Node.js byte relay (two sockets and nothing else: the floor for a Node.js proxy)
 * and of PgBouncer (session mode) before and after IDGATE_BENCH_SESSIONS (default 1000)
 * clients log in and run one query, in plaintext and with TLS from the client. Each measurement
 * takes a fresh process, warmed by a batch of sessions opened and closed first (so compiled code
 * and caches that every process has once are not charged to the sessions measured).
 *
 * Every session holds two descriptors in the proxy and one here: the open-files limit
 * (`ulimit -n`) must allow it, which is checked first.
 *
 *   node --import tsx test/bench/session-memory.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { EntraSimulator } from '../../src/dev/entra-simulator.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import {
  CERT_FILE,
  KEY_FILE,
  run,
  startByteRelay,
  startGatewayProcess,
  startPgBouncer,
  stopProcess,
  writeCertificate,
  type Server,
} from './bench-servers.js';

const SESSIONS = Number(process.env['IDGATE_BENCH_SESSIONS'] ?? 1000);
const USER = 'bench_user';
const DATABASE = 'bench';
const AUDIENCE = 'api://idgate-bench';
/** Time for a process to settle after the last login (lazy frees, GC) before its size is read. */
const SETTLE_MS = 1000;
const WARM_UP_SESSIONS = 200;

interface Subject {
  readonly name: string;
  readonly start: (tls: boolean) => Promise<Server | undefined>;
  readonly dbname: string;
  readonly password: () => Promise<string>;
}

function residentKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** Opens sessions that log in and run one query, and leaves them open. */
async function openSessions(subject: Subject, server: Server, tls: boolean, count: number, into: pg.Client[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: server.port,
      database: subject.dbname,
      user: USER,
      password: await subject.password(),
      // Self-signed: what is measured is the session's memory, not trust.
      ...(tls ? { ssl: { rejectUnauthorized: false } } : {}),
    });
    await client.connect();
    await client.query('SELECT 1');
    into.push(client);
  }
}

async function closeSessions(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
}

/** The process's growth per session, in KB, with SESSIONS idle sessions open. */
async function perSession(subject: Subject, tls: boolean): Promise<number | undefined> {
  const server = await subject.start(tls);
  if (server === undefined) return undefined;
  const pid = server.child.pid ?? 0;
  const clients: pg.Client[] = [];
  try {
    await openSessions(subject, server, tls, Math.min(WARM_UP_SESSIONS, SESSIONS), clients);
    await closeSessions(clients);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = residentKb(pid);
    await openSessions(subject, server, tls, SESSIONS, clients);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return (residentKb(pid) - before) / SESSIONS;
  } finally {
    await closeSessions(clients);
    await stopProcess(server.child);
  }
}

async function main(): Promise<void> {
  const { stdout } = await run('sh', ['-c', 'ulimit -n']);
  const limit = stdout.trim() === 'unlimited' ? Infinity : Number(stdout.trim());
  if (limit < 3 * SESSIONS + 100) {
    throw new Error(
      `ulimit -n is ${limit}: ${SESSIONS} sessions need about ${3 * SESSIONS + 100} open files (raise it, or set IDGATE_BENCH_SESSIONS lower)`,
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'idgate-bench-memory-'));
  const cluster = await PostgresCluster.start({ settings: { max_connections: String(SESSIONS + 60) } });
  const entra = await EntraSimulator.start();
  try {
    const password = randomBytes(12).toString('hex');
    await cluster.sql(`CREATE ROLE ${USER} LOGIN PASSWORD '${password}'`);
    await cluster.sql(`CREATE DATABASE ${DATABASE} OWNER ${USER}`);
    await writeCertificate(work);
    writeFileSync(join(work, 'entra-ca.pem'), entra.caCert);
    const groupId = entra.directory.createGroup('bench-agents').id;
    const agent = await entra.directory.registerApplication({ displayName: 'bench-agent' });
    entra.directory.addMember(groupId, agent.objectId);

    const gateway: Subject = {
      name: 'idgate',
      dbname: 'bench-db',
      password: () => entra.mint(entra.appClaims(agent, AUDIENCE)),
      start: () =>
        startGatewayProcess(
          work,
          {
            listen: { 'allow-plaintext': true, tls: { cert: CERT_FILE, key: KEY_FILE }, 'max-connections': SESSIONS + 10 },
            entra: { 'tenant-id': entra.tenantId, audience: AUDIENCE, authority: entra.authority, ca: 'entra-ca.pem' },
            connections: [
              {
                name: 'bench-db',
                host: cluster.host,
                port: cluster.port,
                database: DATABASE,
                user: USER,
                'password-env': 'BENCH_PASSWORD',
                tls: 'disable',
              },
            ],
            'identity-map': [{ 'entra-group': groupId, connection: 'bench-db', scope: 'all', record: false }],
            recordings: { path: 'audit-memory.db' },
            log: { level: 'error' }, // its warning that Graph is not configured is not what this measures
          },
          { BENCH_PASSWORD: password },
        ),
    };
    const relay: Subject = {
      name: 'node byte relay',
      dbname: DATABASE,
      password: () => Promise.resolve(password),
      start: (tls) => startByteRelay(cluster, work, tls ? [join(work, CERT_FILE), join(work, KEY_FILE)] : []),
    };
    const bouncer: Subject = {
      name: 'pgbouncer',
      dbname: DATABASE,
      password: () => Promise.resolve(password),
      start: () => startPgBouncer(work, cluster, DATABASE, { name: USER, password }, SESSIONS + 10),
    };

    process.stdout.write(
      `\nmemory per idle session (resident set growth with ${SESSIONS} sessions open, a fresh process each, after ${Math.min(WARM_UP_SESSIONS, SESSIONS)} sessions opened and closed)\n`,
    );
    for (const subject of [gateway, relay, bouncer]) {
      for (const tls of [false, true]) {
        const kb = await perSession(subject, tls);
        const label = `${subject.name}, ${tls ? 'TLS from the client' : 'plaintext'}`;
        process.stdout.write(`  ${label.padEnd(38)} ${kb === undefined ? 'not installed' : `${kb.toFixed(1)} KB`}\n`);
      }
    }
  } finally {
    await entra.stop();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
