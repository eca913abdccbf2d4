import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sessionsJson, settleAudit } from '../support/audit.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';

describe('idgate replay', () => {
  let h: Harness;
  let sessionId: string;
  let staging: string;
  before(async () => {
    h = await Harness.start({ identityMap: [{ 'entra-app-role': 'Audit.Full', connection: 'records-api', scope: 'all', record: 'full' }] });
    // A staging copy, taken before the session runs, that the session can be replayed against.
    await h.cluster.sql('CREATE DATABASE staging TEMPLATE records');
    await h.cluster.sql('CREATE DATABASE empty_copy');
    const appId = crypto.randomUUID();
    const client = new pg.Client(pgOptions(h, await h.token({ azp: appId })));
    await client.connect();
    await client.query('SELECT count(*) FROM records');
    await client.query('BEGIN');
    await client.query('INSERT INTO records (title) VALUES ($1), ($2)', ['replayed one', 'replayed two']);
    await client.query({ name: 'titles', text: 'SELECT title FROM records WHERE id > $1 ORDER BY id', values: [95] });
    await client.query({ name: 'titles', text: 'SELECT title FROM records WHERE id > $1 ORDER BY id', values: [98] });
    await client.query('SELECT 1/0').catch(() => undefined);
    await client.query('ROLLBACK');
    await client.query("UPDATE records SET title = 'x' WHERE id < 0");
    await client.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    sessionId = String(session?.['id']);
    staging = `postgres://sync_writer:${encodeURIComponent(h.passwords['sync_writer'] ?? '')}@127.0.0.1:${h.cluster.port}/staging?sslmode=disable`;
  });
  after(async () => {
    await h.stop();
  });

  it('re-runs the session against a copy and gets the same tags, row counts and errors', async () => {
    const r = await idgate(['replay', sessionId, '--execute', '--target', staging, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /8 of 8 statements replayed with the same outcome/);
    assert.match(r.stdout, /INSERT 0 2\s+INSERT 0 2\s+same/);
    assert.match(r.stdout, /ERROR 22012\s+ERROR 22012\s+same/);
    assert.ok(
      !r.stdout.includes(h.passwords['sync_writer'] ?? 'x') && !r.stderr.includes(h.passwords['sync_writer'] ?? 'x'),
      'no password in the output',
    );
    assert.equal(
      await h.cluster.sql("SELECT count(*) FROM records WHERE title LIKE 'replayed%'", 'staging'),
      '0',
      'the transaction was rolled back again',
    );
  });

  it('logs in to the target as the session logged in: a date it read day-first is read so again, and show prints the login', async () => {
    const appId = crypto.randomUUID();
    const client = new pg.Client({ ...pgOptions(h, await h.token({ azp: appId })), options: '-c DateStyle=ISO,DMY' });
    await client.connect();
    const dayFirst = "SELECT 1 WHERE '03/04/2025'::date = date '2025-04-03'";
    assert.equal((await client.query(dayFirst)).rowCount, 1);
    await client.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const id = String(session?.['id']);
    const shown = await idgate(['show', id, '--db', h.config.recordingsPath]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /logged in upstream with .*options=-c DateStyle=ISO,DMY/);
    assert.match(shown.stdout, /idgate\.identity_oid=/, 'the identity settings the server saw are part of it');
    const r = await idgate(['replay', id, '--execute', '--target', staging, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SELECT 1\s+SELECT 1\s+same/, 'read month-first, the date would not match');
  });

  it('reaches the target as libpq would: a Unix-domain socket given as host=/dir, and sslmode prefer (the default) on a server without TLS', async () => {
    const password = encodeURIComponent(h.passwords['sync_writer'] ?? '');
    const socket = `postgresql://sync_writer:${password}@/staging?host=${encodeURIComponent(h.cluster.socketDirectory)}&port=${h.cluster.port}`;
    const preferred = `postgresql://sync_writer:${password}@127.0.0.1:${h.cluster.port}/staging`;
    for (const target of [socket, preferred]) {
      const r = await idgate(['replay', sessionId, '--execute', '--target', target, '--no-wait', '--db', h.config.recordingsPath]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /8 of 8 statements replayed with the same outcome/);
    }
  });

  it('reports each statement whose outcome differs, and exits 1', async () => {
    const empty = staging.replace('/staging?', '/empty_copy?');
    const r = await idgate(['replay', sessionId, '--execute', '--target', empty, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /SELECT 1\s+ERROR 42P01\s+DIFFERENT/);
  });

  it('sends only what verify vouches for: a log edited under the gateway is refused, --unverified replays it anyway', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'idgate-edited-'));
    try {
      const copy = join(dir, 'audit.db');
      const original = new Database(h.config.recordingsPath, { readonly: true });
      await original.backup(copy);
      original.close();
      // Whoever can write the file changes what the session sent: one byte of its first stored segment.
      const edited = new Database(copy);
      const segment = 'SELECT first_seq, lines FROM event_segments WHERE session_id = ? ORDER BY first_seq LIMIT 1';
      const row = edited.prepare(segment).get(sessionId) as { first_seq: number; lines: Buffer };
      const lines = Buffer.from(row.lines);
      lines[lines.length - 40] = (lines[lines.length - 40] ?? 0) ^ 0x01;
      edited.prepare('UPDATE event_segments SET lines = ? WHERE session_id = ? AND first_seq = ?').run(lines, sessionId, row.first_seq);
      edited.close();
      const refused = await idgate(['replay', sessionId, '--execute', '--target', staging, '--no-wait', '--db', copy]);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        new RegExp(`refusing to replay session ${sessionId}: its log does not verify \\(1 finding, the first: edited event ${sessionId}#`),
      );
      assert.doesNotMatch(refused.stderr, /replaying session/, 'nothing was sent');
      const anyway = await idgate(['replay', sessionId, '--execute', '--target', staging, '--no-wait', '--unverified', '--db', copy]);
      assert.match(anyway.stderr, /replaying session/, anyway.stdout + anyway.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to run against the database the session ran on, unless told to', async () => {
    const original = staging.replace('/staging?', '/records?');
    const r = await idgate(['replay', sessionId, '--execute', '--target', original, '--no-wait', '--db', h.config.recordingsPath]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refusing to replay against 127\.0\.0\.1:\d+\/records/);
  });

  const copySession = async (claims: Record<string, unknown>, rows = 50): Promise<string> => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const appId = crypto.randomUUID();
    const env = { ...process.env, PGPASSWORD: await h.token({ azp: appId, ...claims }) };
    await promisify(execFile)(
      'psql',
      [
        '-X',
        '-q',
        h.conninfo(),
        '-c',
        'CREATE TEMP TABLE t (n int)',
        '-c',
        `\\copy t FROM program 'seq 1 ${rows}'`,
        '-c',
        'SELECT count(*) FROM t',
      ],
      { env },
    );
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    return String(session?.['id']);
  };

  it('replays COPY data when it was recorded (record: full), and says so when it was not', async () => {
    const full = await copySession({ groups: [], roles: ['Audit.Full'] });
    const same = await idgate(['replay', full, '--execute', '--target', staging, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /COPY 50\s+COPY 50\s+same/);
    const sizeOnly = await copySession({});
    const differs = await idgate(['replay', sizeOnly, '--execute', '--target', staging, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(differs.code, 1);
    assert.match(differs.stdout, /COPY 50\s+COPY 0\s+DIFFERENT/);
    assert.match(differs.stdout, /141 bytes of COPY data were not recorded/);
  });

  it('records megabytes of COPY data whole (record: full): the replay loads every row again', async () => {
    // About 1.3 MB in CopyData frames of psql's size, arriving in chunks that cut them anywhere.
    const full = await copySession({ groups: [], roles: ['Audit.Full'] }, 200_000);
    const replayed = await idgate(['replay', full, '--execute', '--target', staging, '--no-wait', '--db', h.config.recordingsPath]);
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
    assert.match(replayed.stdout, /COPY 200000\s+COPY 200000\s+same/);
    assert.match(replayed.stdout, /SELECT 1\s+SELECT 1\s+same/);
  });

  it('prints what would run with --dry-run, and plays the transcript in the terminal', async () => {
    const dry = await idgate(['replay', sessionId, '--execute', '--dry-run', '--db', h.config.recordingsPath]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run/);
    assert.match(dry.stdout, /INSERT INTO records \(title\) VALUES \(\$1\), \(\$2\)/);
    assert.match(dry.stdout, /params \[\{"text":"replayed one"\},\{"text":"replayed two"\}\]/);
    const started = Date.now();
    const play = await idgate(['replay', sessionId, '--speed', '1000', '--db', h.config.recordingsPath]);
    assert.equal(play.code, 0, play.stderr);
    assert.match(play.stdout, /#8 UPDATE records SET title = 'x' WHERE id < 0/);
    assert.ok(Date.now() - started < 10_000);
  });
});
