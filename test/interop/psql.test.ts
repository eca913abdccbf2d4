import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Harness } from '../support/harness.js';

const run = promisify(execFile);

describe('psql through the gateway', () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await Harness.start();
    dir = mkdtempSync(join(tmpdir(), 'idgate-psql-'));
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function psql(token: string, args: string[], conninfo = h.conninfo()): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', conninfo, ...args], {
        env: { ...process.env, PGPASSWORD: token },
      });
      return { stdout: stdout.trim(), stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout: string; stderr: string; code: number };
      return { stdout: err.stdout.trim(), stderr: err.stderr, code: err.code };
    }
  }

  it('logs in with sslmode=require and runs queries and prepared statements', async () => {
    const r = await psql(await h.token(), [
      '-c',
      'SELECT current_user',
      '-c',
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      '-c',
      'PREPARE by_id(int) AS SELECT title FROM records WHERE id = $1',
      '-c',
      'EXECUTE by_id(3)',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split('\n'), ['sync_writer', 'f', 'record 3']);
  });

  it('copies in and out with \\copy', async () => {
    const input = join(dir, 'in.tsv');
    const output = join(dir, 'out.tsv');
    writeFileSync(input, Array.from({ length: 500 }, (_, i) => `psql copy ${i}\n`).join(''));
    const r = await psql(await h.token(), [
      '-c',
      'CREATE TEMP TABLE t (title text)',
      '-c',
      `\\copy t FROM '${input}'`,
      '-c',
      `\\copy (SELECT title FROM t ORDER BY title) TO '${output}'`,
      '-c',
      'SELECT count(*) FROM t',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').at(-1), '500');
    assert.equal(
      readFileSync(output, 'utf8'),
      readFileSync(input, 'utf8')
        .split('\n')
        .filter(Boolean)
        .sort()
        .map((l) => `${l}\n`)
        .join(''),
    );
  });

  it('cancels a running pg_sleep on Ctrl-C', async () => {
    const child = spawn('psql', ['-X', h.conninfo(), '-c', 'SELECT pg_sleep(60)'], {
      env: { ...process.env, PGPASSWORD: await h.token() },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 100; i++) {
      if ((await h.cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")) === '1') {
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    assert.ok(Date.now() - started < 5000);
    assert.match(stderr, /canceling statement due to user request/);
    assert.equal(code, 1);
  });

  const refusals: [string, () => Promise<string>, RegExp][] = [
    ['a wrong token', async () => 'wrong', /not a JWT/],
    ['an expired token', () => h.token({}, { expiresIn: -3600 }), /expired/],
    ['a token for another audience', () => h.token({ aud: 'api://someone-else' }), /another audience/],
    ['a token for another tenant', () => h.token({ tid: 'ffffffff-0000-0000-0000-000000000000' }), /another tenant/],
    ['a token not mapped to the connection', () => h.token({ groups: [] }), /not granted connection/],
  ];
  for (const [name, token, message] of refusals) {
    it(`shows a FATAL for ${name}`, async () => {
      const r = await psql(await token(), ['-c', 'SELECT 1']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /FATAL/);
      assert.match(r.stderr, message);
    });
  }

  it('refuses sslmode=disable unless plaintext is allowed', async () => {
    const r = await psql(await h.token(), ['-c', 'SELECT 1'], h.conninfo().replace('sslmode=require', 'sslmode=disable'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /only over TLS/);
    await h.assertNoLeaks();
  });
});
