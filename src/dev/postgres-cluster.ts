import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';
import { findPostgresBinaries } from './postgres-binaries.js';
import type { CertificatePair } from './self-signed.js';
import { errorMessage } from '../idgate-error.js';
import { DevEnvironmentError } from './dev-error.js';
import { copyFromTemplate, type OsUser } from './cluster-template.js';

const run = promisify(execFile);

export interface ClusterOptions {
  /** pg_hba.conf lines placed before the default `host all all 127.0.0.1/32 scram-sha-256`. */
  readonly hba?: readonly string[];
  /** The directory of initdb/postgres (default: findPostgresBinaries()). */
  readonly binDir?: string;
  /** Serve TLS with this certificate (ssl=on). */
  readonly tls?: CertificatePair;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Extra environment for the server process (LOCPATH for a locale compiled elsewhere, …). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * A throw-away PostgreSQL cluster: initdb into a temporary directory with SCRAM authentication,
 * started on a free 127.0.0.1 port, removed on stop. As root it runs as the `postgres` OS user,
 * because Postgres refuses to run as root.
 */
export class PostgresCluster {
  readonly host = '127.0.0.1';
  readonly superuser = 'idgate_admin';
  readonly superuserPassword = `admin-${randomBytes(18).toString('base64url')}`;
  /** The password sql() logs in with: the template's until start() has set the cluster's own. */
  private loginPassword = this.superuserPassword;
  private process: ChildProcess | undefined;
  /** Where start() put the cluster, and how: restart() launches it the same way. */
  private root = '';
  private options: ClusterOptions = {};
  private log = '';

  private constructor(
    readonly binDir: string,
    readonly dataDir: string,
    readonly port: number,
    private readonly osUser: OsUser | undefined,
  ) {}

  static async start(options: ClusterOptions = {}): Promise<PostgresCluster> {
    const binDir = options.binDir ?? findPostgresBinaries();
    const osUser = userInfo().uid === 0 ? await postgresOsUser() : undefined;
    const dataDir = mkdtempSync(join(tmpdir(), 'idgate-pg-'));
    if (osUser) chownSync(dataDir, osUser.uid, osUser.gid);
    let firstPassword = '';
    for (let attempt = 0; ; attempt++) {
      const cluster = new PostgresCluster(binDir, join(dataDir, 'data'), await freePort(), osUser);
      try {
        if (attempt === 0) await cluster.create(options);
        else cluster.loginPassword = firstPassword;
        firstPassword = cluster.loginPassword;
        cluster.root = dataDir;
        cluster.options = options;
        await cluster.launch(dataDir, options);
        await cluster.probe();
        await cluster.takeOwnPassword();
        return cluster;
      } catch (e) {
        if (attempt >= 3 || !/could not bind|address already in use/i.test(cluster.log)) {
          rmSync(dataDir, { recursive: true, force: true });
          throw e;
        }
      }
    }
  }

  /** The directory of the server's Unix-domain socket. */
  get socketDirectory(): string {
    return dirname(this.dataDir);
  }

  get serverLog(): string {
    return this.log;
  }

  /**
   * Runs SQL as the superuser with node-postgres (no psql needed; one simple Query, which may hold
   * several statements); returns the rows as psql -A -t prints them: columns joined by |, rows by
   * newlines. A statement that fails throws pg's DatabaseError, whose `code` is the SQLSTATE.
   */
  async sql(statement: string, database = 'postgres'): Promise<string> {
    const client = new pg.Client({
      host: this.host,
      port: this.port,
      database,
      user: this.superuser,
      password: this.loginPassword,
      ssl: false,
      connectionTimeoutMillis: 10_000,
      // Every value as the server's text, as psql prints it.
      types: { getTypeParser: () => (value: string) => value },
    });
    await client.connect();
    try {
      const answer: unknown = await client.query<(string | null)[]>({ text: statement, rowMode: 'array' });
      // pg answers a Query holding several statements with one result per statement (its types know only one).
      const results = (Array.isArray(answer) ? answer : [answer]) as pg.QueryArrayResult<(string | null)[]>[];
      return results
        .flatMap((r) => r.rows)
        .map((row) => row.map((v) => v ?? '').join('|'))
        .join('\n');
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }

  /** Stops the server and keeps its data, as an outage would (fast shutdown: open sessions end). */
  async halt(): Promise<void> {
    const proc = this.process;
    if (proc && proc.exitCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGINT');
      await exited;
    }
  }

  /** Starts a halted server again, on the same port with the same data. */
  async restart(): Promise<void> {
    this.log = '';
    await this.launch(this.root, this.options);
    await this.probe();
  }

  /**
   * Like pg_isready after "ready to accept connections": a first login, tried again if the
   * connection breaks. One run in a few dozen of the npm package's binaries reset the very first
   * connection of a fresh cluster; a retry is announced on stderr with the server's log, so it is
   * seen, not hidden.
   */
  private async probe(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sql('SELECT 1');
        return;
      } catch (e) {
        if (e instanceof pg.DatabaseError || attempt >= 5) {
          this.process?.kill('SIGKILL');
          throw new DevEnvironmentError('cluster-unresponsive', `the new cluster does not answer: ${errorMessage(e)}\n${this.log}`, {
            cause: e,
          });
        }
        process.stderr.write(
          `postgres cluster on port ${this.port}: first login failed (${errorMessage(e)}), retrying; server log so far:\n${this.log}\n`,
        );
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The data directory, copied from a template made by initdb once per set of binaries, with this cluster's files. */
  private async create(options: ClusterOptions): Promise<void> {
    this.loginPassword = await copyFromTemplate(this.binDir, this.osUser, (dataDir, pwfile) => this.initdb(dataDir, pwfile), this.dataDir);
    const hba = [...(options.hba ?? []), 'local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256'];
    writeFileSync(join(this.dataDir, 'pg_hba.conf'), `${hba.join('\n')}\n`);
    this.own(join(this.dataDir, 'pg_hba.conf'));
    if (options.tls) {
      writeFileSync(join(this.dataDir, 'server.crt'), options.tls.cert);
      writeFileSync(join(this.dataDir, 'server.key'), options.tls.key);
      chmodSync(join(this.dataDir, 'server.key'), 0o600);
      this.own(join(this.dataDir, 'server.crt'));
      this.own(join(this.dataDir, 'server.key'));
    }
  }

  /** The copy's superuser still has the template's password: from here on, only this cluster's works. */
  private async takeOwnPassword(): Promise<void> {
    if (this.loginPassword === this.superuserPassword) return;
    await this.sql(`ALTER ROLE ${this.superuser} PASSWORD '${this.superuserPassword.replaceAll("'", "''")}'`);
    this.loginPassword = this.superuserPassword;
  }

  private initdb(dataDir: string, pwfile: string): Promise<void> {
    return this.exec(join(this.binDir, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      this.superuser,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
  }

  private launch(root: string, options: ClusterOptions): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: this.host,
      unix_socket_directories: root,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...(options.tls ? { ssl: 'on' } : {}),
      ...options.settings,
    };
    const args = ['-D', this.dataDir, '-p', String(this.port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const proc = this.spawnAsOwner(join(this.binDir, 'postgres'), args, options.env);
    this.process = proc;
    return new Promise((resolve, reject) => {
      const onOutput = (chunk: Buffer): void => {
        this.log += chunk.toString();
        if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
        if (/ready to accept connections/.test(this.log)) {
          proc.stderr?.off('data', onOutput);
          proc.stderr?.on('data', (c: Buffer) => {
            this.log = (this.log + c.toString()).slice(-100_000);
          });
          resolve();
        }
      };
      proc.stderr?.on('data', onOutput);
      proc.once('exit', (code) =>
        reject(new DevEnvironmentError('cluster-unresponsive', `postgres exited with ${code} during start:\n${this.log}`)),
      );
    });
  }

  private own(path: string): void {
    if (this.osUser) chownSync(path, this.osUser.uid, this.osUser.gid);
  }

  private spawnAsOwner(file: string, args: string[], env: Readonly<Record<string, string>> = {}): ChildProcess {
    const ids = this.osUser ? { uid: this.osUser.uid, gid: this.osUser.gid } : {};
    return spawn(file, args, { ...ids, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
  }

  private exec(file: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = this.spawnAsOwner(file, args);
      let err = '';
      proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      proc.once('exit', (code) =>
        code === 0 ? resolve() : reject(new DevEnvironmentError('cluster-unresponsive', `${file} exited with ${code}: ${err}`)),
      );
    });
  }
}

async function postgresOsUser(): Promise<OsUser> {
  try {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new DevEnvironmentError(
      'running-as-root',
      'running as root: PostgreSQL needs a non-root OS user named "postgres" (the postgresql package creates one)',
    );
  }
}
