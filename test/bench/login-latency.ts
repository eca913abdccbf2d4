/**
 * What a login costs through the gateway, unscoped and scoped, side by side: connect, `SELECT 1`,
 * close, with node-postgres. A scoped login also asks its upstream which built-in names its search
 * path overloads (upstream/read-shadowed-builtins.ts) — one query on a fresh backend, whose
 * catalog caches are cold — so the difference is that lookup's price. Measured on the plain
 * database, then with citext, hstore and pg_trgm installed (more overloads on the path to sort).
 * The gateway runs in this process, on loopback, against one Postgres. Part of `npm run bench`.
 */
import pg from 'pg';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';

const LOGINS = Number(process.env['IDGATE_BENCH_LOGINS'] ?? 100);
const SCOPED_ROLE = 'Bench.ReadRecords';

async function login(h: Harness, token: string): Promise<number> {
  const started = process.hrtime.bigint();
  const client = new pg.Client(pgOptions(h, token));
  await client.connect();
  await client.query('SELECT 1');
  await client.end();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function summary(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2);
  return `median ${at(0.5)} ms (p10 ${at(0.1)}, p90 ${at(0.9)})`;
}

async function measure(h: Harness, label: string, unscoped: string, scoped: string): Promise<void> {
  for (let i = 0; i < 10; i++) await login(h, i % 2 === 0 ? unscoped : scoped); // warm both paths
  const all: number[] = [];
  const read: number[] = [];
  const paired: number[] = [];
  // Alternating, so both see the same machine; the paired difference is what the scoped login adds.
  for (let i = 0; i < LOGINS; i++) {
    const a = await login(h, unscoped);
    const r = await login(h, scoped);
    all.push(a);
    read.push(r);
    paired.push(r - a);
  }
  process.stdout.write(`login + SELECT 1 + close, ${label}, ${LOGINS} each:\n`);
  process.stdout.write(`  scope all:          ${summary(all)}\n`);
  process.stdout.write(`  scope read:records: ${summary(read)}\n`);
  process.stdout.write(`  scoped minus unscoped, paired: median ${median(paired).toFixed(2)} ms\n`);
}

async function main(): Promise<void> {
  const h = await Harness.start({ identityMap: [{ 'entra-app-role': SCOPED_ROLE, connection: CONNECTION, scope: 'read:records' }] });
  try {
    const unscoped = await h.token();
    const scoped = await h.token({ groups: [], roles: [SCOPED_ROLE] });
    await measure(h, 'plain database', unscoped, scoped);
    await h.cluster.sql('CREATE EXTENSION citext; CREATE EXTENSION hstore; CREATE EXTENSION pg_trgm', 'records');
    await measure(h, 'with citext, hstore and pg_trgm', unscoped, scoped);
  } finally {
    await h.stop();
  }
}

await main();
