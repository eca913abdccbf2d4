import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AuditLog } from '../../src/audit/audit-log.js';
import { createLogger } from '../../src/logging/logger.js';
import { freePort } from '../../src/dev/free-port.js';
import { IDGATE, idgate, startIdgate, type CliRun } from '../support/cli.js';
import { sessionHeader } from '../support/session-header.js';

/** Runs the CLI with the read end of its stdout closed before it writes: as `idgate … | head` once head has had enough. */
function withClosedStdout(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [IDGATE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout: '', stderr }));
  });
}

/**
 * The CLI as a script uses it (the habits of psql, pg_dump, vault): output cut short by a closed
 * pipe, a path that is not an audit database, a central store that is not there, a wrong word —
 * each a one-line message naming what failed and a documented exit status, never a stack trace.
 */
describe('the CLI in scripts', () => {
  let dir: string;
  let db: string;
  let sessionId: string;
  const READERS = ['sessions', 'sessions --json', 'show SESSION', 'show SESSION --json', 'export', 'verify', 'usage', 'replay SESSION'];
  const run = (command: string): string[] => command.replace('SESSION', sessionId).split(' ');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-cli-scripts-'));
    db = join(dir, 'audit.db');
    // Enough sessions and events that every reading command has lines to print.
    const log = await AuditLog.open(db, createLogger('silent'));
    for (let s = 0; s < 20; s++) {
      const recorder = log.startSession(sessionHeader(`cafe${String(s).padStart(4, '0')}-0000-4000-8000-000000000000`), true);
      for (let i = 0; i < 50; i++) recorder.record('client', 'Query', { sql: `SELECT ${i}` }, 'ok');
      recorder.end({ reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 });
    }
    await log.close();
    sessionId = 'cafe0000';
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops silently with status 141 when the reader of its output goes away (`| head`), every reading command', async () => {
    const runs = await Promise.all(READERS.map((command) => withClosedStdout([...run(command), '--db', db])));
    runs.forEach((r, i) => {
      assert.equal(r.stderr, '', `${READERS[i]}: no message, no stack trace`);
      assert.equal(r.code, 141, `${READERS[i]}: the status of a filter killed by SIGPIPE, not 0 (a verify cut short must not pass)`);
    });
  });

  it('names the path and what is wrong with it when --db is not an audit database, status 2', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n');
    const otherSqlite = join(dir, 'other.sqlite');
    new Database(otherSqlite).exec('CREATE TABLE t (x)');
    mkdirSync(join(dir, 'a-directory'));
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.db'), /missing\.db: no such file$/],
      [join(dir, 'no', 'such', 'dir', 'audit.db'), /audit\.db: no such directory \(.*no\/such\/dir\)$/],
      [text, /notes\.txt: not an audit database \(file is not a database\)$/],
      [otherSqlite, /other\.sqlite: a SQLite database, but not an idgate audit log$/],
      [join(dir, 'a-directory'), /a-directory: a directory, not an audit database$/],
    ];
    // The readers open --db in one of two ways (src/cli/options/db-option.ts, and verify's own
    // log report): each way meets every case, and every other reader one case in turn.
    const pairs: [string, string, RegExp][] = [
      ...['sessions', 'verify'].flatMap((command) => cases.map(([path, expected]): [string, string, RegExp] => [command, path, expected])),
      ...READERS.filter((command) => command !== 'sessions' && command !== 'verify').map((command, i): [string, string, RegExp] => {
        const [path, expected] = cases[i % cases.length] ?? ['', /$^/];
        return [command, path, expected];
      }),
    ];
    const runs = await Promise.all(pairs.map(([command, path]) => idgate([...run(command), '--db', path])));
    runs.forEach((r, i) => {
      const [command, path, expected] = pairs[i] ?? ['', '', /$^/];
      assert.equal(r.code, 2, `${command} --db ${path}: ${r.stderr}`);
      assert.match(
        r.stderr.trim(),
        new RegExp(`^--db ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
        `${command}: names --db and the path`,
      );
      assert.match(r.stderr.trim(), expected, command);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${command}: one line`);
    });
  });

  it('says which central store it cannot reach, never its password, status 2', async () => {
    const port = await freePort();
    const url = `postgres://reader:s3cret-pw@127.0.0.1:${port}/audit?sslmode=disable`;
    const runs = await Promise.all(READERS.map((command) => idgate([...run(command), '--db', url])));
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, `${READERS[i]}: ${r.stderr}`);
      assert.equal(
        r.stderr.trim(),
        `--db: cannot reach the central store at 127.0.0.1:${port}: connection refused (is it running, on that port?)`,
      );
      assert.ok(!r.stderr.includes('s3cret'), 'the password is not repeated');
    });
    const badPort = await idgate(['sessions', '--db', 'postgres://127.0.0.1:abc/audit']);
    assert.equal(badPort.code, 2);
    assert.equal(badPort.stderr.trim(), '--db: port "abc" is not a port number (1–65535)');
  });

  it('runs a command named after its options (idgate --db FILE sessions), not a listing of it', async () => {
    const r = await idgate(['--db', db, 'sessions', '--json', '--limit', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 2);
  });

  it('answers an unknown command or option in two lines, not the whole help, status 2', async () => {
    const unknown = await idgate(['sesions']);
    assert.equal(unknown.code, 2);
    assert.deepEqual(unknown.stderr.trim().split('\n'), ['idgate: Unknown argument: sesions', 'idgate --help lists the commands.']);
    const option = await idgate(['sessions', '--limmit', '3', '--db', db]);
    assert.equal(option.code, 2);
    assert.deepEqual(option.stderr.trim().split('\n'), ['idgate: Unknown argument: limmit', 'idgate sessions --help lists its options.']);
  });

  it('reads the audit log with --config when the upstream passwords are not in the environment; check still asks for them', async () => {
    const config = join(dir, 'idgate.yaml');
    const yaml = (path: string): string =>
      [
        'entra: { tenant-id: 9f75b24e-c588-49b0-884c-b91b9e2777b4, audience: "api://idgate-test" }',
        'connections:',
        '  - { name: records, host: 127.0.0.1, port: 5432, database: records, user: app, password-env: IDGATE_TEST_UNSET_PASSWORD }',
        'recordings:',
        '  path: ' + path,
        '  central: { url: "postgres://writer@127.0.0.1:1/audit", password-env: IDGATE_TEST_UNSET_CENTRAL }',
        'identity-map: [{ entra-group: 82b351ca-2199-46ec-8152-f6bc713eb872, connection: records, scope: read }]',
      ].join('\n');
    writeFileSync(config, yaml(db));
    const env = { IDGATE_TEST_UNSET_PASSWORD: '', IDGATE_TEST_UNSET_CENTRAL: '' };
    for (const command of ['sessions', 'show SESSION', 'usage', 'export', 'verify']) {
      const r = await idgate([...run(command), '--config', config], env);
      assert.equal(r.code, 0, `${command} --config: ${r.stderr}`);
    }
    const check = await idgate(['check', '--config', config], env);
    assert.notEqual(check.code, 0);
    assert.match(check.stderr, /connections\[0\]\.password-env: environment variable IDGATE_TEST_UNSET_PASSWORD is not set/);
    writeFileSync(config, yaml(join(dir, 'gone.db')));
    const gone = await idgate(['sessions', '--config', config], env);
    assert.equal(gone.code, 2);
    assert.equal(gone.stderr.trim(), `recordings.path (${config}) ${join(dir, 'gone.db')}: no such file`);
  });

  it('dev refuses a taken --port in one line, and without --port moves off a taken 5433 and says so', { timeout: 60_000 }, async () => {
    const holder = createServer();
    const held = await new Promise<number>((resolve) =>
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as AddressInfo).port)),
    );
    // 5433 taken too (by us, unless another process already holds it).
    const default5433 = createServer();
    await new Promise<void>((resolve) => default5433.once('error', () => resolve()).listen(5433, '127.0.0.1', () => resolve()));
    try {
      const refused = await idgate(['dev', '--port', String(held)]);
      assert.equal(refused.code, 2);
      assert.equal(refused.stderr.trim().split('\n').at(-1), `--port ${held}: the port is taken on 127.0.0.1`);
      const dev = await startIdgate(['dev', '--log-level', 'warn'], /Ctrl-C stops everything/);
      try {
        const moved = /port 5433 is taken on 127\.0\.0\.1 \(another cluster or gateway\): the gateway listens on (\d+) instead/.exec(
          dev.output(),
        );
        assert.ok(moved, dev.output());
        assert.match(dev.output(), new RegExp(`gateway on 127\\.0\\.0\\.1:${moved[1] ?? ''} `));
      } finally {
        dev.child.kill('SIGINT');
        await dev.exited;
      }
    } finally {
      holder.close();
      default5433.close();
    }
  });

  it('sessions --limit (the most recent N, oldest first) and --end-reason; prune --dry-run says what a prune would remove and removes nothing', async () => {
    const ids = async (...args: string[]): Promise<string[]> => {
      const r = await idgate(['sessions', '--json', '--db', db, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id.slice(0, 8));
    };
    assert.deepEqual(await ids('--limit', '3'), ['cafe0017', 'cafe0018', 'cafe0019']);
    assert.equal((await ids('--end-reason', 'client-terminated')).length, 20);
    assert.deepEqual(await ids('--end-reason', 'open'), []);
    const zero = await idgate(['sessions', '--db', db, '--limit', '0']);
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /--limit: a whole number above 0/);

    const copy = join(dir, 'prune-me.db');
    copyFileSync(db, copy);
    const dry = await idgate(['prune', '--db', copy, '--older-than', '0s', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.trim(), 'would prune 20 sessions (1000 events) and 0 login attempts');
    const left = await idgate(['sessions', '--json', '--db', copy]);
    assert.equal(left.stdout.trim().split('\n').length, 20, 'a dry run removes nothing');
    const real = await idgate(['prune', '--db', copy, '--older-than', '0s']);
    assert.equal(real.stdout.trim(), 'pruned 20 sessions (1000 events) and 0 login attempts');
    const typo = await idgate(['prune', '--db', join(dir, 'typo.db'), '--older-than', '90d']);
    assert.equal(typo.code, 2);
    assert.ok(!existsSync(join(dir, 'typo.db')), 'a mistyped path does not become a new, empty log');
  });

  it('verify --json: a line per log and the verdict, with the same exit status as the text', async () => {
    const lines = (out: string): { type: string; ok: boolean; sessions?: number; findings?: unknown[] }[] =>
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; ok: boolean });
    const good = await idgate(['verify', '--json', '--db', db]);
    assert.equal(good.code, 0, good.stderr);
    const [log, result] = lines(good.stdout);
    assert.deepEqual([log?.type, log?.ok, log?.sessions, log?.findings], ['log', true, 20, []]);
    assert.deepEqual(result, { type: 'result', ok: true, logs: 1 });
    const edited = join(dir, 'edited.db');
    copyFileSync(db, edited);
    const handle = new Database(edited);
    handle.prepare("UPDATE sessions SET statements = statements + 1 WHERE id LIKE 'cafe0003%'").run();
    handle.close();
    const bad = await idgate(['verify', '--json', '--db', edited]);
    assert.equal(bad.code, 1);
    const [badLog, badResult] = lines(bad.stdout);
    assert.equal(badLog?.ok, false);
    assert.ok((badLog?.findings ?? []).length > 0, bad.stdout);
    assert.equal(badResult?.ok, false);
  });

  it('show ends with a line saying how the session ended', async () => {
    const shown = await idgate(['show', sessionId, '--db', db]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout.trim().split('\n').at(-1) ?? '', /^\s+\+[^-]+ {2}-- ended: client-terminated$/);
  });
});
