import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { sessionsJson, settleAudit, showJson } from '../support/audit.js';
import { Bytes } from '../support/byte-builder.js';
import { pgOptions } from '../support/client-options.js';
import { CONNECTION, Harness } from '../support/harness.js';
import { errorOf, RawClient, type RawFrame } from '../support/raw-client.js';

const W = 'Scope.WriteRecords';
const R = 'Scope.ReadRecords';
const identityMap = [
  { 'entra-app-role': W, connection: CONNECTION, scope: 'write:records' },
  { 'entra-app-role': R, connection: CONNECTION, scope: 'read:records' },
];

const query = (sql: string | Buffer): Buffer =>
  new Bytes().raw(Buffer.concat([Buffer.isBuffer(sql) ? sql : Buffer.from(sql), Buffer.from([0])])).frame('Q');
const parse = (sql: string, name = ''): Buffer => new Bytes().cstring(name).cstring(sql).int16(0).frame('P');
const bind = (statement = ''): Buffer => new Bytes().cstring('').cstring(statement).int16(0).int16(0).int16(0).frame('B');
const execute = (): Buffer => new Bytes().cstring('').int32(0).frame('E');
const sync = (): Buffer => new Bytes().frame('S');
const codes = (frames: readonly RawFrame[]): string[] => frames.map((f) => f.code);
const firstError = (frames: readonly RawFrame[]): ReturnType<typeof errorOf> =>
  errorOf(frames.find((f) => f.code === 'E') ?? { code: 'E', body: Buffer.alloc(1) });

async function rawSession(h: Harness, role: string, parameters: Record<string, string> = {}): Promise<{ c: RawClient; login: RawFrame[] }> {
  const c = await RawClient.connect(h.port);
  await c.startTls();
  const login = await c.login(await h.token({ groups: [], roles: [role] }), { user: 'raw', database: CONNECTION, ...parameters });
  return { c, login };
}

describe('scopes are sound: the gateway reads every statement as the server will, and refuses what it cannot', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ identityMap });
    await h.cluster.sql(
      'CREATE TABLE other (id int, x int); INSERT INTO other VALUES (1, 1); GRANT ALL ON other TO sync_writer',
      'records',
    );
  });
  after(async () => {
    await h.stop();
  });

  it('answers a statement the parser rejects itself: 42601 with the parser’s message and position; nothing runs, the session goes on', async () => {
    const { c } = await rawSession(h, W);
    c.write(query("SELECT 1; DELETE FROM other; SELEC 'é'"));
    const frames = await c.untilReady();
    assert.deepEqual(codes(frames), ['E', 'Z']);
    const error = firstError(frames);
    assert.equal(error.code, '42601');
    assert.match(error.message, /syntax error at or near "SELEC"/);
    assert.equal(error.position, '30');
    assert.equal(await h.cluster.sql('SELECT count(*) FROM other', 'records'), '1');
    c.write(query("INSERT INTO records (title) VALUES ('after a syntax error')"));
    assert.deepEqual(codes(await c.untilReady()), ['C', 'Z']);
    c.close();
  });

  it('keeps a pipelined extended batch in step around a parser rejection and a scope denial', async () => {
    const { c } = await rawSession(h, W);
    c.write(
      Buffer.concat([
        parse('DELETE FROM records WHERE id = -1'),
        bind(),
        execute(),
        sync(),
        parse('DELETE FROM records WHERE'),
        bind(),
        execute(),
        sync(),
        parse('SELECT * FROM other'),
        bind(),
        execute(),
        sync(),
        parse('DELETE FROM records WHERE id = -2'),
        bind(),
        execute(),
        sync(),
      ]),
    );
    const frames = [...(await c.untilReady()), ...(await c.untilReady()), ...(await c.untilReady()), ...(await c.untilReady())];
    assert.deepEqual(codes(frames), ['1', '2', 'C', 'Z', 'E', 'Z', 'E', 'Z', '1', '2', 'C', 'Z']);
    const errors = frames.filter((f) => f.code === 'E').map(errorOf);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['42601', '42501'],
    );
    c.close();
  });

  it('refuses bytes that are not UTF-8 (22021) instead of reading them as something else', async () => {
    const { c } = await rawSession(h, W);
    // 0x95 0x5c is one BIG5/SJIS character whose second byte is a backslash; in UTF-8 it is not a character at all.
    c.write(
      query(
        Buffer.concat([
          Buffer.from("INSERT INTO records (title) VALUES ('"),
          Buffer.from([0x95, 0x5c]),
          Buffer.from("'); DELETE FROM other; --')"),
        ]),
      ),
    );
    const frames = await c.untilReady();
    assert.equal(firstError(frames).code, '22021');
    assert.equal(await h.cluster.sql('SELECT count(*) FROM other', 'records'), '1');
    c.close();
  });

  it('refuses at login a client encoding or string-escape setting it cannot read as the server would (0A000)', async () => {
    for (const parameters of [
      { client_encoding: 'SJIS' },
      { options: '-c standard_conforming_strings=off' },
      { options: '--client-encoding=BIG5' },
      { standard_conforming_strings: 'of' },
    ]) {
      const { c, login } = await rawSession(h, W, parameters);
      const error = firstError(login);
      assert.equal(error.code, '0A000', JSON.stringify(parameters));
      c.close();
    }
    for (const parameters of [{ client_encoding: 'utf-8', standard_conforming_strings: 'on' }, { client_encoding: 'SQL_ASCII' }]) {
      const { c, login } = await rawSession(h, W, parameters);
      assert.equal(
        login.at(-1)?.code,
        'Z',
        `${JSON.stringify(parameters)}: the pinned values themselves are fine, however spelt, and psql's SQL_ASCII runs as UTF8`,
      );
      const reported = login.filter((f) => f.code === 'S').map((f) => f.body.toString('utf8').split('\0'));
      assert.deepEqual(reported.find(([name]) => name === 'client_encoding')?.[1], 'UTF8');
      c.close();
    }
  });

  it('never runs a statement behind a setting change the analysis does not follow: the whole string is refused', async () => {
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [W] })));
    await client.connect();
    for (const attack of [
      "SET standard_conforming_strings = off; INSERT INTO records (title) VALUES ('a\\'); DELETE FROM other; --')",
      "SELECT set_config('standard_conforming_strings', 'off', false); INSERT INTO records (title) VALUES ('a\\'); DELETE FROM other; --')",
      "SET client_encoding = 'BIG5'; INSERT INTO records (title) VALUES ('x')",
    ]) {
      await assert.rejects(client.query(attack), (e: { code?: string }) => e.code === '0A000', attack);
    }
    assert.equal((await client.query('SHOW standard_conforming_strings')).rows[0].standard_conforming_strings, 'on');
    assert.equal(await h.cluster.sql('SELECT count(*) FROM other', 'records'), '1');
    await client.end();
  });

  it('ends the session (57P01, lexical-state-changed) when the server reports a lexical setting it did not foresee, and audits it', async () => {
    // A database-side path nobody foresaw: a trigger the DBA wrote switches string escapes off.
    await h.cluster.sql(
      [
        "CREATE FUNCTION flip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); RETURN NEW; END $$",
        "CREATE TRIGGER flip BEFORE INSERT ON records FOR EACH ROW WHEN (NEW.title = 'flip') EXECUTE FUNCTION flip()",
      ].join('; '),
      'records',
    );
    try {
      const appId = crypto.randomUUID();
      const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [W], azp: appId })));
      client.on('error', () => undefined);
      await client.connect();
      await client.query("INSERT INTO records (title) VALUES ('before')");
      const ended = new Promise<{ code?: string; message: string }>((resolve) => client.once('error', resolve));
      await client.query("INSERT INTO records (title) VALUES ('flip')").catch(() => undefined);
      const error = await ended;
      assert.equal(error.code, '57P01');
      assert.match(error.message, /standard_conforming_strings = off/);
      await settleAudit(h);
      const [session] = await sessionsJson(h, { identity: appId });
      assert.equal(session?.['endReason'], 'lexical-state-changed', JSON.stringify(session));
    } finally {
      await h.cluster.sql('DROP TRIGGER flip ON records', 'records');
    }
  });

  it('refuses a statement too long to analyse (54000) and one too deep (54001), and goes on', async () => {
    const { c } = await rawSession(h, R);
    c.write(query(`SELECT '${'x'.repeat(1 << 20)}'`));
    assert.equal(firstError(await c.untilReady()).code, '54000');
    c.write(
      Buffer.concat([
        new Bytes()
          .cstring('')
          .cstring(`SELECT '${'y'.repeat(2 << 20)}'`)
          .int16(0)
          .frame('P'),
        bind(),
        execute(),
        sync(),
      ]),
    );
    assert.equal(firstError(await c.untilReady()).code, '54000');
    c.write(query(`SELECT ${'('.repeat(20_000)}1${')'.repeat(20_000)}`));
    assert.equal(firstError(await c.untilReady()).code, '54001');
    c.write(query('SELECT count(*) FROM records'));
    assert.deepEqual(codes(await c.untilReady()), ['T', 'D', 'C', 'Z']);
    c.close();
  });

  it('passes the server’s own 42601 for an allowed statement untouched, next to a denial in the same pipeline', async () => {
    const { c } = await rawSession(h, R);
    // to_tsquery's syntax error is the server's 42601, raised while running an allowed statement.
    c.write(
      Buffer.concat([
        parse("SELECT to_tsquery('&&&')"),
        bind(),
        execute(),
        sync(),
        parse('SELECT * FROM other'),
        bind(),
        execute(),
        sync(),
      ]),
    );
    const frames = [...(await c.untilReady()), ...(await c.untilReady())];
    const errors = frames.filter((f) => f.code === 'E').map(errorOf);
    assert.equal(errors[0]?.code, '42601');
    assert.match(errors[0]?.message ?? '', /tsquery/);
    assert.equal(errors[1]?.code, '42501');
    assert.match(errors[1]?.message ?? '', /reading public\.other is not allowed by scope "read:records"/);
    c.close();
  });

  it('audits every refusal with the statement and its SQLSTATE', async () => {
    const appId = crypto.randomUUID();
    const client = new pg.Client(pgOptions(h, await h.token({ groups: [], roles: [R], azp: appId })));
    await client.connect();
    await client.query('SELEC 1').catch(() => undefined);
    await client.query('SELECT * FROM pg_stat_activity').catch(() => undefined);
    await client.end();
    await settleAudit(h);
    const [session] = await sessionsJson(h, { identity: appId });
    const statements = (await showJson(h, String(session?.['id']))).filter((l) => l['type'] === 'statement');
    assert.deepEqual(
      statements.map((s) => s['sql']),
      ['SELEC 1', 'SELECT * FROM pg_stat_activity'],
    );
    assert.deepEqual(
      statements.map((s) => (s['outcome'] as { sqlstate?: string }).sqlstate),
      ['42601', '42501'],
    );
    await h.assertNoLeaks();
  });
});

describe('denials are recognised by their place in the reply stream, whatever the server’s language', () => {
  let h: Harness;
  let locales: string;
  before(async () => {
    // A German message catalogue needs a German locale; it is compiled into a directory of our own.
    locales = mkdtempSync(join(tmpdir(), 'idgate-locale-'));
    chmodSync(locales, 0o755);
    execFileSync('localedef', ['-i', 'de_DE', '-f', 'UTF-8', join(locales, 'de_DE.UTF-8')]);
    h = await Harness.start({ identityMap, cluster: { env: { LOCPATH: locales } } });
    // Sessions of the records database speak German (the server's own log stays as the harness reads it).
    await h.cluster.sql("ALTER DATABASE records SET lc_messages = 'de_DE.UTF-8'");
    await h.cluster.sql('CREATE TABLE other (id int); GRANT ALL ON other TO sync_writer', 'records');
  });
  after(async () => {
    await h.stop();
    rmSync(locales, { recursive: true, force: true });
  });

  it('gives 42501 and 42601 with the gateway’s messages when the upstream speaks German', async () => {
    const { c } = await rawSession(h, R);
    c.write(query('SELECT 1 FROM no_such_table'));
    const native = firstError(await c.untilReady());
    assert.equal(native.code, '42501', 'no_such_table is outside read:records: refused before the server sees it');
    c.write(query("SELECT * FROM records WHERE title = to_char(1/0, '9')"));
    const german = firstError(await c.untilReady());
    assert.equal(german.code, '22012');
    assert.match(german.message, /Division durch Null/, 'the upstream really speaks German');
    c.write(Buffer.concat([query('SELECT * FROM other'), query('SELEC 1'), parse('DELETE FROM records'), bind(), execute(), sync()]));
    const frames = [...(await c.untilReady()), ...(await c.untilReady()), ...(await c.untilReady())];
    assert.deepEqual(
      frames.filter((f) => f.code === 'E').map((f) => errorOf(f).code),
      ['42501', '42601', '42501'],
    );
    assert.match(
      errorOf(frames[0] ?? { code: '', body: Buffer.alloc(1) }).message,
      /reading public\.other is not allowed by scope "read:records"/,
    );
    c.close();
  });
});
