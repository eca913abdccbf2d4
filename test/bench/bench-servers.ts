/**
 * The processes the benchmarks measure, started as deployed: the gateway from its CLI with a
 * config file, the Node.js byte relay, PgBouncer in session mode, each on a free port, and stopped
 * cleanly.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '../../src/dev/free-port.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { selfSignedCertificate } from '../../src/dev/self-signed.js';
import { IDGATE } from '../support/cli.js';

export const run = promisify(execFile);

export interface Server {
  readonly child: ChildProcess;
  readonly port: number;
}

/** One self-signed certificate in the work directory, for the gateway and PgBouncer alike, so their TLS costs compare. */
/** A gateway connection named `name` to the bench database of `cluster` as `user`, its password in BENCH_PASSWORD. */
export function benchConnection(cluster: PostgresCluster, name: string, user: string): Record<string, unknown> {
  return { name, host: cluster.host, port: cluster.port, database: 'bench', user, 'password-env': 'BENCH_PASSWORD', tls: 'disable' };
}

export const CERT_FILE = 'server.crt';
export const KEY_FILE = 'server.key';
export async function writeCertificate(work: string): Promise<void> {
  const certificate = await selfSignedCertificate();
  writeFileSync(join(work, CERT_FILE), certificate.cert);
  writeFileSync(join(work, KEY_FILE), certificate.key, { mode: 0o600 });
}

/**
 * `idgate serve` with this config (`listen.port` is filled in) from a file in the work directory.
 * IDGATE_BENCH_NODE_ARGS lets a profiling run pass e.g. --cpu-prof to the gateway process (and to the byte relay).
 */
export async function startGatewayProcess(
  work: string,
  config: Record<string, unknown> & { listen: Record<string, unknown> },
  env: Record<string, string>,
  bin: string = IDGATE,
): Promise<Server> {
  const port = await freePort();
  const file = join(work, `idgate-${port}.yaml`);
  writeFileSync(file, stringify({ ...config, listen: { ...config.listen, host: '127.0.0.1', port } }));
  const child = spawn(process.execPath, [...benchNodeArgs(), bin, 'serve', '--config', file], {
    // What a profiling flag writes to the working directory (--perf-basic-prof: V8's isolate log) goes with the work directory.
    cwd: work,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitForPort(port);
  return { child, port };
}

function benchNodeArgs(): string[] {
  return (process.env['IDGATE_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
}

/** The floor for a Node.js proxy: bytes moved, nothing else (see byte-relay.ts); with a certificate and key, TLS from the client. */
export async function startByteRelay(cluster: PostgresCluster, work: string, tlsFiles: readonly string[] = []): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    // tsx by its path: the relay runs in the work directory, where no node_modules is.
    [
      ...benchNodeArgs(),
      '--import',
      import.meta.resolve('tsx'),
      join(import.meta.dirname, 'byte-relay.ts'),
      String(port),
      String(cluster.port),
      ...tlsFiles,
    ],
    { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  await waitForPort(port);
  return { child, port };
}

/**
 * PgBouncer in session mode in front of one database, SCRAM for its clients, TLS for those that
 * ask (with the certificate of writeCertificate). Undefined when PgBouncer is not installed.
 */
export async function startPgBouncer(
  work: string,
  cluster: PostgresCluster,
  database: string,
  user: { name: string; password: string },
  poolSize = 50,
): Promise<Server | undefined> {
  const binary = await run('sh', ['-c', 'command -v pgbouncer']).then(
    (r) => r.stdout.trim(),
    () => '',
  );
  if (binary === '') return undefined;
  const port = await freePort();
  const dir = join(work, `pgbouncer-${port}`);
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  await run('mkdir', ['-p', dir]);
  writeFileSync(users, `"${user.name}" "${user.password}"\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `${database} = host=${cluster.host} port=${cluster.port} dbname=${database}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${users}`,
      'pool_mode = session',
      `max_client_conn = ${Math.max(200, poolSize)}`,
      `default_pool_size = ${poolSize}`,
      'client_tls_sslmode = allow',
      `client_tls_cert_file = ${join(work, CERT_FILE)}`,
      `client_tls_key_file = ${join(work, KEY_FILE)}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root.
  let ids = {};
  if (userInfo().uid === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    for (const path of [work, dir, ini, users, join(work, KEY_FILE)]) chownSync(path, uid, gid);
    chmodSync(users, 0o600);
    ids = { uid, gid };
  }
  const child = spawn(binary, ['-q', ini], { ...ids, stdio: 'ignore' });
  await waitForPort(port);
  return { child, port };
}

/** SIGTERM, then waits for the exit: a gateway still flushing its audit log must not see its directory removed. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}
