import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { selfSignedCertificate } from '../../src/dev/self-signed.js';
import { Harness } from '../support/harness.js';
import { repoPath } from '../support/repo-root.js';

const script = repoPath('test/interop/ended_session.py');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type Driver = 'psycopg2' | 'psycopg';
type Mode = 'idle' | 'busy';
interface Seen {
  readonly sqlstate: string | null;
  readonly message: string;
}

/**
 * Runs the driver in a session, lets `end` end it (idle: between two statements; busy: during
 * one), and returns what the driver raised.
 */
async function endedAs(driver: Driver, mode: Mode, conninfo: string, password: string, end: () => Promise<void>): Promise<Seen> {
  // Debian's drivers are importable by the system python, not by a pyenv python earlier on PATH.
  const py = spawn('/usr/bin/python3', [script, driver, conninfo, password, mode]);
  let out = '';
  py.stdout.on('data', (c: Buffer) => (out += c.toString()));
  py.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((resolve) => py.once('exit', resolve));
  for (let waited = 0; !out.includes('ready'); waited += 50) {
    if (waited > 10_000) throw new Error(`${driver} did not connect: ${out}`);
    await sleep(50);
  }
  if (mode === 'busy') await sleep(300);
  await end();
  if (mode === 'idle') py.stdin.write('go\n');
  await exited;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`${driver}: ${out}`);
  return JSON.parse(line) as Seen;
}

/**
 * What a libpq-based driver reports when the gateway ends its session (here: the identity disabled
 * in Entra) over TLS, against what it reports when Postgres ends a session itself
 * (pg_terminate_backend) over TLS: the gateway must give drivers everything Postgres gives them.
 * psycopg 3 shows the FATAL's message (libpq read it before the close); psycopg2 2.9 reports only
 * the connection's loss, without a SQLSTATE, for Postgres itself just the same.
 */
describe('a session ended from the server side, as libpq drivers see it over TLS', () => {
  let h: Harness;
  let direct: PostgresCluster;
  before(async () => {
    h = await Harness.start({ graph: { 'cache-seconds': 1, 'recheck-seconds': 1 } });
    direct = await PostgresCluster.start({ tls: await selfSignedCertificate('127.0.0.1') });
    await direct.sql("CREATE ROLE victim LOGIN PASSWORD 'victim-pw'");
  });
  after(async () => {
    await direct.stop();
    await h.stop();
  });

  for (const driver of ['psycopg', 'psycopg2'] as const) {
    it(`${driver}: idle and busy sessions the gateway ends read as those Postgres ends`, { timeout: 60_000 }, async () => {
      for (const mode of ['idle', 'busy'] as const) {
        const agent = await h.agent(`${driver}-${mode}-agent`);
        const viaGateway = await endedAs(driver, mode, h.conninfo(), await h.agentToken(agent), async () => {
          h.entra.directory.setEnabled(agent.appId, false);
          // recheck-seconds 1: the session is ended within about a second; the next statement comes after.
          await sleep(2500);
        });
        const app = `${driver}-${mode}`;
        const conninfo = `host=127.0.0.1 port=${direct.port} dbname=postgres user=victim sslmode=require application_name=${app}`;
        const fromPostgres = await endedAs(driver, mode, conninfo, 'victim-pw', async () => {
          await direct.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`);
          await sleep(300);
        });
        assert.equal(viaGateway.sqlstate, fromPostgres.sqlstate, `${driver} ${mode}: the same SQLSTATE as from Postgres`);
        const serverText = (seen: Seen, fatal: RegExp): string => seen.message.replace(fatal, '<FATAL>');
        assert.equal(
          serverText(viaGateway, /terminating connection because identity \S+ was disabled in Entra/),
          serverText(fromPostgres, /terminating connection due to administrator command/),
          `${driver} ${mode}: the same report, the FATAL's text in the same place`,
        );
        if (driver === 'psycopg') assert.match(viaGateway.message, /disabled in Entra/, `${mode}: the FATAL reached the driver`);
      }
    });
  }
});
