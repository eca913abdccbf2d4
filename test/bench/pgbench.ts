/**
 * `npm run bench`: pgbench select-only (-S, -c 8 -j 2) against Postgres directly, through the
 * gateway (a separate process, as deployed), through a Node.js relay that only moves bytes (the
 * floor for a Node.js proxy), and through PgBouncer in session mode when it is installed, in one
 * run, alternating, simple and extended protocol; the gateway and PgBouncer also with TLS from the
 * client, as agents reach a deployed gateway; then connection setup. Prints medians and ratios.
 * IDGATE_BENCH_SECONDS (default 6), IDGATE_BENCH_ROUNDS (default 5), IDGATE_BENCH_TARGETS (a
 * comma list of target names: only those, no connection-setup part). Rounds of one target vary by
 * up to ±10% on this machine, so more, shorter rounds give steadier medians than few long ones.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateCentral } from '../../src/audit/central/central-schema.js';
import { EntraSimulator, READ_APPLICATIONS, READ_MEMBERSHIP } from '../../src/dev/entra-simulator.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { freePort } from '../../src/dev/free-port.js';
import { NodeKey } from '../../src/signing/node-key.js';
import { boxSnapshot, describeBoxSplit } from './box-split.js';
import { medianInterval } from './median-interval.js';
import { countSyscalls, perTransaction, recordProfile } from './perf-attach.js';
import {
  benchConnection,
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

const SECONDS = Number(process.env['IDGATE_BENCH_SECONDS'] ?? 6);
const ROUNDS = Number(process.env['IDGATE_BENCH_ROUNDS'] ?? 5);
const AUDIENCE = 'api://idgate-bench';
const USER = 'bench_user';

interface Target {
  readonly name: string;
  readonly port: number;
  readonly dbname: string;
  readonly password: string;
  readonly pid?: number;
  /** pgbench's sslmode: the TLS targets take the agent's side of a production deployment. */
  readonly sslmode?: 'require';
  /** Count the CPU of the process and its child processes (listen.workers). */
  readonly tree?: boolean;
  /** The gateway's admin port: its write-ahead journal's appends are counted around each run. */
  readonly adminPort?: number;
}

interface Sample {
  readonly tps: number;
  readonly latencyMs: number;
  /** The proxy process's CPU per transaction, all threads (user and kernel)… */
  readonly cpuUsPerTx?: number;
  /** …the kernel's part of it (system calls, and the loopback TCP work they do)… */
  readonly kernelCpuUsPerTx?: number;
  /** …and its main thread's alone (the rest is the audit writer, GC and libuv's pool). */
  readonly mainCpuUsPerTx?: number;
  /** The whole machine's busy CPU per transaction (pgbench, Postgres, the proxy, the kernel). */
  readonly boxCpuUsPerTx: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'idgate-bench-'));
  const stops: (() => Promise<unknown>)[] = [async () => rmSync(work, { recursive: true, force: true })];
  try {
    const cluster = await PostgresCluster.start({ settings: { max_connections: '200', shared_buffers: '256MB' } });
    stops.push(() => cluster.stop());
    const password = randomBytes(12).toString('hex');
    await cluster.sql(`CREATE ROLE ${USER} LOGIN PASSWORD '${password}'`);
    await cluster.sql(`CREATE DATABASE bench OWNER ${USER}`);
    await run('pgbench', ['-i', '-q', '-s', '10', '-h', cluster.host, '-p', String(cluster.port), '-U', USER, 'bench'], {
      env: { ...process.env, PGPASSWORD: password },
    });

    const entra = await EntraSimulator.start();
    stops.push(() => entra.stop());
    // As deployed: live revocation on, the agent a real application in the (simulated) tenant.
    const groupId = entra.directory.createGroup('bench-agents').id;
    const agent = await entra.directory.registerApplication({ displayName: 'bench-agent' });
    entra.directory.addMember(groupId, agent.objectId);
    const gatewayApp = await entra.directory.registerApplication({
      displayName: 'idgate-bench',
      roles: [READ_APPLICATIONS, READ_MEMBERSHIP],
    });
    const graph = { appId: gatewayApp.appId, secret: gatewayApp.secrets[0] ?? '' };
    await writeCertificate(work);
    const gatewayAdmin = await freePort();
    const gateway = await startGateway(work, cluster, entra, groupId, password, graph, 5, { adminPort: gatewayAdmin, twin: 'main' });
    stops.push(() => stopProcess(gateway.child));
    const uncached = await startGateway(work, cluster, entra, groupId, password, graph, 0);
    stops.push(() => stopProcess(uncached.child));
    // Recording as before write-ahead (recordings.durability: batched), to price write-ahead side by side.
    const batched = await startGateway(work, cluster, entra, groupId, password, graph, 5, { durability: 'batched' });
    stops.push(() => stopProcess(batched.child));
    // Write-ahead recording that also ships to a central store (a database of the same cluster: its CPU is the machine's either way).
    const centralUrl = await prepareCentralStore(cluster);
    const shipping = await startGateway(work, cluster, entra, groupId, password, graph, 5, { centralUrl });
    stops.push(() => stopProcess(shipping.child));
    // Write-ahead recording with the log signed by a node key (its journal authenticated), to price
    // signing against its twin: a gateway started just before it the same way, without a key.
    const signed = await startGateway(work, cluster, entra, groupId, password, graph, 5, { signed: true, twin: 'signed' });
    stops.push(() => stopProcess(signed.child));
    const unsigned = await startGateway(work, cluster, entra, groupId, password, graph, 5, { twin: 'unsigned' });
    stops.push(() => stopProcess(unsigned.child));
    // One and two worker processes, started alike, to measure what a second core gives (their CPU is the process tree's).
    const oneWorker = await startGateway(work, cluster, entra, groupId, password, graph, 5, { workers: 1, twin: 'w1' });
    stops.push(() => stopProcess(oneWorker.child));
    const twoWorkers = await startGateway(work, cluster, entra, groupId, password, graph, 5, { workers: 2, twin: 'w2' });
    stops.push(() => stopProcess(twoWorkers.child));
    // The admin endpoint on, /metrics scraped once a second as Prometheus would (more often than its usual 15 s).
    const adminPort = await freePort();
    const metered = await startGateway(work, cluster, entra, groupId, password, graph, 5, { adminPort });
    stops.push(() => stopProcess(metered.child));
    const scraper = setInterval(
      () =>
        void fetch(`http://127.0.0.1:${adminPort}/metrics`)
          .then((r) => r.text())
          .catch(() => undefined),
      1000,
    );
    stops.push(async () => clearInterval(scraper));
    const baselineBin = process.env['IDGATE_BENCH_BASELINE'];
    const baseline =
      baselineBin === undefined ? undefined : await startGateway(work, cluster, entra, groupId, password, graph, 5, { bin: baselineBin });
    if (baseline !== undefined) stops.push(() => stopProcess(baseline.child));
    const mint = (): Promise<string> => entra.mint(entra.appClaims(agent, AUDIENCE));
    /** A recorded target through a gateway started with listen.workers, its CPU counted over the process tree. */
    const workersTarget = async (name: string, server: Server, sslmode: 'require' | undefined): Promise<Target> => ({
      name,
      port: server.port,
      dbname: 'bench-recorded',
      password: await mint(),
      pid: server.child.pid ?? 0,
      tree: true,
      ...(sslmode !== undefined ? { sslmode } : {}),
    });
    /** A target through one of the gateway processes, to one of its connections. */
    const through = async (name: string, server: Server, dbname: string): Promise<Target> => ({
      name,
      port: server.port,
      dbname,
      password: await mint(),
      pid: server.child.pid ?? 0,
    });

    const targets: Target[] = [
      { name: 'direct', port: cluster.port, dbname: 'bench', password },
      { name: 'idgate', port: gateway.port, dbname: 'bench-db', password: await mint(), pid: gateway.child.pid ?? 0 },
      {
        name: 'idgate+audit',
        port: gateway.port,
        dbname: 'bench-recorded',
        password: await mint(),
        pid: gateway.child.pid ?? 0,
        adminPort: gatewayAdmin,
      },
      { name: 'idgate+metrics', port: metered.port, dbname: 'bench-db', password: await mint(), pid: metered.child.pid ?? 0 },
      ...(baseline !== undefined
        ? [
            await through('idgate baseline', baseline, 'bench-db'),
            await through('idgate baseline scope:read', baseline, 'bench-read'),
            await through('idgate baseline+audit', baseline, 'bench-recorded'),
            await through('idgate baseline max-rows', baseline, 'bench-capped'),
          ]
        : []),
      { name: 'idgate max-rows', port: gateway.port, dbname: 'bench-capped', password: await mint(), pid: gateway.child.pid ?? 0 },
      { name: 'idgate+audit central', port: shipping.port, dbname: 'bench-recorded', password: await mint(), pid: shipping.child.pid ?? 0 },
      { name: 'idgate+audit signed', port: signed.port, dbname: 'bench-recorded', password: await mint(), pid: signed.child.pid ?? 0 },
      await through('idgate+audit unsigned', unsigned, 'bench-recorded'),
      { name: 'idgate+audit batched', port: batched.port, dbname: 'bench-recorded', password: await mint(), pid: batched.child.pid ?? 0 },
      { name: 'idgate scope:read', port: gateway.port, dbname: 'bench-read', password: await mint(), pid: gateway.child.pid ?? 0 },
      {
        name: 'idgate tls',
        port: gateway.port,
        dbname: 'bench-db',
        password: await mint(),
        pid: gateway.child.pid ?? 0,
        sslmode: 'require',
      },
    ];
    targets.push(
      {
        name: 'idgate tls+audit',
        port: gateway.port,
        dbname: 'bench-recorded',
        password: await mint(),
        pid: gateway.child.pid ?? 0,
        sslmode: 'require',
        adminPort: gatewayAdmin,
      },
      // Recorded in batches with TLS: how much of TLS's recorded cost is the write-ahead journal's way.
      {
        name: 'idgate tls+audit batched',
        port: batched.port,
        dbname: 'bench-recorded',
        password: await mint(),
        pid: batched.child.pid ?? 0,
        sslmode: 'require',
      },
      ...(await Promise.all(
        [
          ['1 worker', oneWorker],
          ['2 workers', twoWorkers],
        ].flatMap(([label, server]) => [
          workersTarget(`idgate+audit ${label as string}`, server as Server, undefined),
          workersTarget(`idgate tls+audit ${label as string}`, server as Server, 'require'),
        ]),
      )),
    );
    const floor = await startByteRelay(cluster, work);
    stops.push(() => stopProcess(floor.child));
    targets.push({ name: 'node byte relay', port: floor.port, dbname: 'bench', password, pid: floor.child.pid ?? 0 });
    const tlsFloor = await startByteRelay(cluster, work, [join(work, CERT_FILE), join(work, KEY_FILE)]);
    stops.push(() => stopProcess(tlsFloor.child));
    targets.push({
      name: 'node byte relay tls',
      port: tlsFloor.port,
      dbname: 'bench',
      password,
      pid: tlsFloor.child.pid ?? 0,
      sslmode: 'require',
    });
    const bouncer = await startPgBouncer(work, cluster, 'bench', { name: USER, password });
    if (bouncer) {
      stops.push(() => stopProcess(bouncer.child));
      targets.push({ name: 'pgbouncer', port: bouncer.port, dbname: 'bench', password, pid: bouncer.child.pid ?? 0 });
      targets.push({
        name: 'pgbouncer tls',
        port: bouncer.port,
        dbname: 'bench',
        password,
        pid: bouncer.child.pid ?? 0,
        sslmode: 'require',
      });
    } else {
      process.stdout.write('pgbouncer not installed: skipping it\n');
    }

    // IDGATE_BENCH_TARGETS=idgate,idgate+audit narrows a profiling run to some targets.
    const only = process.env['IDGATE_BENCH_TARGETS']?.split(',');
    if (only !== undefined) targets.splice(0, targets.length, ...targets.filter((t) => only.includes(t.name)));
    process.stdout.write(`pgbench -S -c 8 -j 2 -T ${SECONDS}, ${ROUNDS} rounds, alternating targets\n`);
    const samples = new Map<string, Sample[]>();
    const journal = new Map<string, JournalCounts>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['simple', 'extended'] as const) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const target of order) {
          const before = await journalCounts(target);
          const sample = await pgbench(target, mode, round + 1);
          const key = `${mode}/${target.name}`;
          addJournalCounts(journal, key, before, await journalCounts(target));
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          process.stdout.write(
            `  round ${round + 1} ${key.padEnd(26)} ${sample.tps.toFixed(0).padStart(7)} tps  ${sample.latencyMs.toFixed(3)} ms  box ${sample.boxCpuUsPerTx.toFixed(1)} µs/tx${sample.cpuUsPerTx !== undefined ? `  ${sample.cpuUsPerTx.toFixed(1)} µs proxy CPU/tx (kernel ${sample.kernelCpuUsPerTx?.toFixed(1)}, main thread ${sample.mainCpuUsPerTx?.toFixed(1)})` : ''}\n`,
          );
        }
      }
    }
    report(samples, targets);
    reportJournal(journal);
    if (only !== undefined) return;
    await connectionSetup(cluster, gateway.port, uncached.port, password, mint);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

async function pgbench(target: Target, mode: 'simple' | 'extended', round: number): Promise<Sample> {
  const pids = target.pid ? (target.tree === true ? processTree(target.pid) : [target.pid]) : [];
  const cpuBefore = sumCpu(pids.map((pid) => cpuTimes(pid)));
  const mainBefore = sumCpu(pids.map((pid) => cpuTimes(pid, pid)));
  const boxBefore = busyMicros();
  const splitBefore = boxSnapshot(pids);
  const syscalls = countSyscalls(target.pid);
  const stopProfile = recordProfile(target.pid, `${target.name}-${mode}-${round}`);
  const { stdout } = await run(
    'pgbench',
    [
      '-n',
      '-S',
      '-c',
      '8',
      '-j',
      '2',
      '-T',
      String(SECONDS),
      '-M',
      mode,
      '-h',
      '127.0.0.1',
      '-p',
      String(target.port),
      '-U',
      USER,
      target.dbname,
    ],
    {
      env: { ...process.env, PGPASSWORD: target.password, PGSSLMODE: target.sslmode ?? 'disable' },
      maxBuffer: 10 * 1024 * 1024,
    },
  );
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const latencyMs = Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1] ?? NaN);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
  const boxCpuUsPerTx = (busyMicros() - boxBefore) / transactions;
  const splitAfter = boxSnapshot(pids);
  if (splitBefore !== undefined && splitAfter !== undefined) {
    process.stdout.write(`    ${target.name}, ${describeBoxSplit(splitBefore, splitAfter, transactions)}\n`);
  }
  await stopProfile?.();
  if (syscalls !== undefined) {
    process.stdout.write(`    ${target.name}, per transaction: ${perTransaction(await syscalls.stop(), transactions)}\n`);
  }
  if (!target.pid) return { tps, latencyMs, boxCpuUsPerTx };
  const cpu = sumCpu(pids.map((pid) => cpuTimes(pid)));
  const main = sumCpu(pids.map((pid) => cpuTimes(pid, pid)));
  return {
    tps,
    latencyMs,
    boxCpuUsPerTx,
    cpuUsPerTx: (cpu.user + cpu.system - cpuBefore.user - cpuBefore.system) / transactions,
    kernelCpuUsPerTx: (cpu.system - cpuBefore.system) / transactions,
    mainCpuUsPerTx: (main.user + main.system - mainBefore.user - mainBefore.system) / transactions,
  };
}

/** Busy CPU time of the whole machine (all but idle and iowait), in microseconds, from /proc/stat. */
function busyMicros(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const busy = fields.reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  return busy * 10_000;
}

function sumCpu(times: readonly { user: number; system: number }[]): { user: number; system: number } {
  return times.reduce((a, t) => ({ user: a.user + t.user, system: a.system + t.system }), { user: 0, system: 0 });
}

/** A process and its child processes (listen.workers forks its workers), from /proc. */
function processTree(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

/** User and system CPU of a process, or of one of its threads, in microseconds (from /proc, clock ticks of 10 ms). */
function cpuTimes(pid: number, thread?: number): { user: number; system: number } {
  const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const fields = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** A gateway's write-ahead journal counters, from its /metrics. */
interface JournalCounts {
  readonly appends: number;
  readonly held: number;
}

async function journalCounts(target: Target): Promise<JournalCounts | undefined> {
  if (target.adminPort === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${target.adminPort}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { appends: value('idgate_audit_journal_appends_total'), held: value('idgate_audit_journal_held_chunks_total') };
}

function addJournalCounts(into: Map<string, JournalCounts>, key: string, before?: JournalCounts, after?: JournalCounts): void {
  if (before === undefined || after === undefined) return;
  const sum = into.get(key) ?? { appends: 0, held: 0 };
  into.set(key, { appends: sum.appends + after.appends - before.appends, held: sum.held + after.held - before.held });
}

/** How many client chunks each journal append served (group commit), per recorded target. */
function reportJournal(journal: Map<string, JournalCounts>): void {
  for (const [key, { appends, held }] of journal) {
    process.stdout.write(
      `  write-ahead journal, ${key}: ${appends} appends for ${held} held client chunks (${(held / appends).toFixed(2)} per append)\n`,
    );
  }
}

function report(samples: Map<string, Sample[]>, targets: Target[]): void {
  process.stdout.write('\nmedians\n');
  for (const mode of ['simple', 'extended']) {
    const medianOf = (name: string, pick: (s: Sample) => number | undefined): number =>
      median((samples.get(`${mode}/${name}`) ?? []).map((s) => pick(s) ?? NaN));
    const tps = (name: string): number => medianOf(name, (s) => s.tps);
    const cpu = (name: string): number => medianOf(name, (s) => s.cpuUsPerTx);
    const kernel = (name: string): number => medianOf(name, (s) => s.kernelCpuUsPerTx);
    const box = (name: string): number => medianOf(name, (s) => s.boxCpuUsPerTx);
    const line = targets
      .map(
        (t) =>
          `${t.name} ${tps(t.name).toFixed(0)} tps${t.pid ? ` (${cpu(t.name).toFixed(1)} µs proxy CPU/tx, ${kernel(t.name).toFixed(1)} in the kernel)` : ''} box ${box(t.name).toFixed(1)} µs/tx`,
      )
      .join(', ');
    process.stdout.write(`  ${mode}: ${line}\n`);
    // Each ratio of medians, then the spread of the same ratio taken round by round (the two
    // targets ran in the same round, seconds apart), which shows how far one run can be trusted:
    // its range, and the median of the rounds with a 95% interval that assumes nothing of the noise.
    // Where both are gateways, the same for the difference in proxy CPU per transaction.
    const has = (name: string): boolean => targets.some((t) => t.name === name);
    const ratio = (label: string, a: string, b: string): string | undefined => {
      if (!has(a) || !has(b)) return undefined;
      const as = samples.get(`${mode}/${a}`) ?? [];
      const bs = samples.get(`${mode}/${b}`) ?? [];
      const perRound = as.map((s, i) => (100 * s.tps) / (bs[i]?.tps ?? NaN));
      const range = `${Math.min(...perRound).toFixed(1)}–${Math.max(...perRound).toFixed(1)}`;
      const cpuPerRound = as.map((s, i) => (s.cpuUsPerTx ?? NaN) - (bs[i]?.cpuUsPerTx ?? NaN));
      return `${label} ${((100 * tps(a)) / tps(b)).toFixed(1)}% (rounds ${range}%${pairedInterval(perRound)})${cpuDifference(cpuPerRound)}`;
    };
    const ratios = [
      ratio('idgate/direct', 'idgate', 'direct'),
      ratio('recording on/off', 'idgate+audit', 'idgate'),
      ratio('metrics scraped/not', 'idgate+metrics', 'idgate'),
      ratio('this build/baseline', 'idgate', 'idgate baseline'),
      ratio('this build/baseline, scope:read', 'idgate scope:read', 'idgate baseline scope:read'),
      ratio('this build/baseline, recorded', 'idgate+audit', 'idgate baseline+audit'),
      ratio('this build/baseline, max-rows', 'idgate max-rows', 'idgate baseline max-rows'),
      ratio('write-ahead/batched recording', 'idgate+audit', 'idgate+audit batched'),
      ratio('signed/unsigned recording', 'idgate+audit signed', 'idgate+audit unsigned'),
      ratio('shipping to a central store/local only', 'idgate+audit central', 'idgate+audit'),
      ratio('batched recording on/off', 'idgate+audit batched', 'idgate'),
      ratio('scope read/all', 'idgate scope:read', 'idgate'),
      ratio('recorded, 2 workers/1', 'idgate+audit 2 workers', 'idgate+audit 1 worker'),
      ratio('recorded tls, 2 workers/1', 'idgate tls+audit 2 workers', 'idgate tls+audit 1 worker'),
      ratio('idgate tls recorded/node byte relay tls', 'idgate tls+audit', 'node byte relay tls'),
      ratio('idgate tls batched recording/node byte relay tls', 'idgate tls+audit batched', 'node byte relay tls'),
      ratio('idgate recorded, 2 workers/pgbouncer', 'idgate+audit 2 workers', 'pgbouncer'),
      ratio('idgate tls recorded, 2 workers/pgbouncer tls', 'idgate tls+audit 2 workers', 'pgbouncer tls'),
      ratio('idgate/node byte relay', 'idgate', 'node byte relay'),
      ratio('pgbouncer/direct', 'pgbouncer', 'direct'),
      ratio('idgate/pgbouncer', 'idgate', 'pgbouncer'),
      ratio('node byte relay/pgbouncer', 'node byte relay', 'pgbouncer'),
      ratio('idgate tls/node byte relay tls', 'idgate tls', 'node byte relay tls'),
      ratio('node byte relay tls/pgbouncer tls', 'node byte relay tls', 'pgbouncer tls'),
      ratio('idgate tls/pgbouncer tls', 'idgate tls', 'pgbouncer tls'),
    ].filter((r) => r !== undefined);
    process.stdout.write(ratios.map((r) => `    ${r}\n`).join(''));
  }
}

/** `; median of rounds 98.1%, 97% interval 96.0–101.2%`, or nothing when the rounds are too few for an interval. */
function pairedInterval(perRound: readonly number[]): string {
  const m = medianInterval(perRound);
  if (m === undefined) return '';
  return `; median of rounds ${m.median.toFixed(1)}%, ${Math.round(m.level * 100)}% interval ${m.low.toFixed(1)}–${m.high.toFixed(1)}%`;
}

/** `, proxy CPU/tx +5.1 µs (rounds +3.2…+7.0; 97% interval +4.0…+6.1)` for two gateways, paired round by round. */
function cpuDifference(perRound: readonly number[]): string {
  const known = perRound.filter((d) => Number.isFinite(d));
  if (known.length === 0) return '';
  const signed = (d: number): string => `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
  const m = medianInterval(known);
  const interval = m === undefined ? '' : `; ${Math.round(m.level * 100)}% interval ${signed(m.low)}…${signed(m.high)}`;
  return `, proxy CPU/tx ${signed(median(known))} µs (rounds ${signed(Math.min(...known))}…${signed(Math.max(...known))}${interval})`;
}

async function connectionSetup(
  cluster: PostgresCluster,
  gatewayPort: number,
  uncachedPort: number,
  password: string,
  mint: () => Promise<string>,
): Promise<void> {
  const n = 200;
  const freshTokens = await Promise.all(Array.from({ length: n }, () => mint()));
  const freshTlsTokens = await Promise.all(Array.from({ length: n }, () => mint()));
  const reused = await mint();
  const measure = async (port: number, database: string, secret: (i: number) => string, tls = false): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = process.hrtime.bigint();
      // The bench's certificate is self-signed: the handshake is what is measured here, not trust.
      const ssl = tls ? { ssl: { rejectUnauthorized: false } } : {};
      const client = new pg.Client({ host: '127.0.0.1', port, database, user: USER, password: secret(i), ...ssl });
      await client.connect();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      await client.end();
    }
    return times;
  };
  const p = (times: number[], q: number): string =>
    ([...times].sort((a, b) => a - b)[Math.floor(q * (times.length - 1))] ?? NaN).toFixed(2);
  process.stdout.write(
    `\nconnection setup (node-postgres connect → ready, ${n} sequential, plaintext unless said, JWKS cached, Graph = the local simulator)\n`,
  );
  for (const [name, times] of [
    ['direct (SCRAM)', await measure(cluster.port, 'bench', () => password)],
    [
      'idgate, a new token each time (verify + Graph cache-seconds 5 + upstream SCRAM)',
      await measure(gatewayPort, 'bench-db', (i) => freshTokens[i] ?? ''),
    ],
    ['idgate, the same token (verified-token cache)', await measure(gatewayPort, 'bench-db', () => reused)],
    [
      'idgate with TLS from the client, a new token each time',
      await measure(gatewayPort, 'bench-db', (i) => freshTlsTokens[i] ?? '', true),
    ],
    ['idgate, Graph asked at every login (cache-seconds 0)', await measure(uncachedPort, 'bench-db', (i) => freshTokens[i] ?? '')],
  ] as const) {
    process.stdout.write(`  ${name.padEnd(58)} p50 ${p(times, 0.5)} ms  p95 ${p(times, 0.95)} ms\n`);
  }
}

function startGateway(
  work: string,
  cluster: PostgresCluster,
  entra: EntraSimulator,
  groupId: string,
  password: string,
  graph: { appId: string; secret: string },
  cacheSeconds: number,
  options: GatewayOptions = {},
): Promise<Server> {
  const { durability = 'write-ahead', centralUrl, adminPort, bin, signed = false, twin, workers } = options;
  writeFileSync(join(work, 'entra-ca.pem'), entra.caCert);
  if (signed) writeFileSync(join(work, 'node.pem'), NodeKey.generate().pem, { mode: 0o600 });
  return startGatewayProcess(
    work,
    {
      // TLS for the 'idgate tls' target; the plaintext targets come in without an SSLRequest.
      listen: { 'allow-plaintext': true, tls: { cert: CERT_FILE, key: KEY_FILE }, ...(workers !== undefined ? { workers } : {}) },
      entra: {
        'tenant-id': entra.tenantId,
        audience: AUDIENCE,
        authority: entra.authority,
        ca: 'entra-ca.pem',
        'gateway-identity': { 'client-id': graph.appId, 'client-secret-env': 'BENCH_GRAPH_SECRET' },
        graph: { endpoint: entra.graphEndpoint, 'cache-seconds': cacheSeconds },
      },
      connections: ['bench-db', 'bench-recorded', 'bench-read', 'bench-capped'].map((name) => benchConnection(cluster, name, USER)),
      'identity-map': [
        { 'entra-group': groupId, connection: 'bench-db', scope: 'all', record: false },
        { 'entra-group': groupId, connection: 'bench-recorded', scope: 'all', record: true },
        { 'entra-group': groupId, connection: 'bench-read', scope: 'read', record: false },
        // max-rows on, far above pgbench's one row: the price of the row cap's stage itself.
        { 'entra-group': groupId, connection: 'bench-capped', scope: 'all', record: false, limits: { 'max-rows': 1000 } },
      ],
      // One audit database per gateway process.
      recordings: {
        path: `audit-cache-${cacheSeconds}-${durability}${centralUrl === undefined ? '' : '-central'}${adminPort === undefined ? '' : '-admin'}${bin === undefined ? '' : '-baseline'}${twin === undefined ? '' : `-${twin}`}.db`,
        durability,
        ...(signed ? { 'signing-key-file': 'node.pem' } : {}),
        ...(centralUrl !== undefined ? { central: { url: centralUrl } } : {}),
      },
      ...(adminPort !== undefined ? { admin: { port: adminPort } } : {}),
      log: { level: 'warn' },
    },
    { BENCH_PASSWORD: password, BENCH_GRAPH_SECRET: graph.secret },
    bin,
  );
}

interface GatewayOptions {
  readonly durability?: 'write-ahead' | 'batched';
  readonly centralUrl?: string;
  /** Serve the admin endpoint on this port (the bench scrapes /metrics there once a second). */
  readonly adminPort?: number;
  /** Another build's bin/idgate (IDGATE_BENCH_BASELINE), to price a change side by side. */
  readonly bin?: string;
  /** Sign the log with a node key (recordings.signing-key-file), to price signing side by side. */
  readonly signed?: boolean;
  /** One of two gateways started alike to price one option side by side (names its database). */
  readonly twin?: string;
  /** listen.workers: the gateway as N processes sharing the port (its CPU is counted over the process tree). */
  readonly workers?: number;
}

/** A central audit store in a database of the cluster, migrated, with an insert-only role for the gateway; returns that role's URL. */
async function prepareCentralStore(cluster: PostgresCluster): Promise<string> {
  const writerPassword = randomBytes(12).toString('hex');
  await cluster.sql('CREATE DATABASE audit_central');
  await cluster.sql(`CREATE ROLE idgate_writer LOGIN PASSWORD '${writerPassword}'`);
  const owner = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    database: 'audit_central',
    user: cluster.superuser,
    password: cluster.superuserPassword,
  });
  await owner.connect();
  try {
    await migrateCentral(owner, 'idgate_writer');
  } finally {
    await owner.end();
  }
  return `postgres://idgate_writer:${writerPassword}@${cluster.host}:${cluster.port}/audit_central?sslmode=disable`;
}

await main();
