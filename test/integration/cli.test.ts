import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { EntraHttp } from '../../src/identity/entra-http.js';
import { freePort } from '../../src/dev/free-port.js';
import { idgate, startIdgate } from '../support/cli.js';
import { AUDIENCE, CONNECTION, Harness } from '../support/harness.js';
import { COMMAND_SUMMARIES } from '../../src/cli/command-summaries.js';
import { repoPath } from '../support/repo-root.js';

/** The command modules, by file name: esbuild names each command's chunk after it (sessions-HASH.js). */
const COMMAND_MODULES = readdirSync(repoPath('src/cli/commands')).map((file) => file.replace(/\.ts$/, ''));

const run = promisify(execFile);

describe('the idgate CLI', () => {
  let h: Harness;
  let dir: string;
  before(async () => {
    h = await Harness.start();
    dir = mkdtempSync(join(tmpdir(), 'idgate-cli-'));
    writeFileSync(join(dir, 'server.crt'), h.certificate.cert);
    writeFileSync(join(dir, 'server.key'), h.certificate.key);
    writeFileSync(join(dir, 'entra-ca.pem'), h.entra.caCert);
  });
  after(async () => {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(port: number, password = 'SYNC_WRITER_PASSWORD', drainSeconds = 30, scope = 'all'): string {
    const file = join(dir, `idgate-${port}.yaml`);
    writeFileSync(
      file,
      stringify({
        listen: { host: '127.0.0.1', port, tls: { cert: 'server.crt', key: 'server.key' }, 'drain-timeout-seconds': drainSeconds },
        entra: { 'tenant-id': h.entra.tenantId, audience: AUDIENCE, authority: h.entra.authority, ca: 'entra-ca.pem' },
        connections: [
          {
            name: CONNECTION,
            host: h.cluster.host,
            port: h.cluster.port,
            database: 'records',
            user: 'sync_writer',
            'password-env': password,
            tls: 'disable',
          },
        ],
        'identity-map': [{ 'entra-group': h.groupId, connection: CONNECTION, scope }],
      }),
    );
    return file;
  }

  async function sessionsOf(db: string): Promise<Record<string, unknown>[]> {
    const r = await idgate(['sessions', '--json', '--db', db]);
    return r.stdout.trim() === ''
      ? []
      : r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  const env = (): NodeJS.ProcessEnv => ({ SYNC_WRITER_PASSWORD: h.passwords['sync_writer'], WRONG_PASSWORD: 'not-it' });

  it('has --help on every command', async () => {
    for (const args of [
      ['--help'],
      ['serve', '--help'],
      ['check', '--help'],
      ['dev', '--help'],
      ['token', '--help'],
      ['reach', '--help'],
      ['usage', '--help'],
      ['identities', '--help'],
    ]) {
      const r = await idgate(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /idgate/);
    }
    const none = await idgate([]);
    assert.notEqual(none.code, 0);
    // Listed without loading any command module: every command, with its positionals.
    const help = await idgate(['--help']);
    for (const { command } of Object.values(COMMAND_SUMMARIES)) assert.ok(help.stdout.includes(`idgate ${command} `), command);
  });

  it('lists the commands without loading one: --help loads no command module, a named command only its own', async () => {
    const logged = { NODE_OPTIONS: `--import ${repoPath('.build/test/support/log-imports.js')}` };
    const commandChunks = (stderr: string): string[] =>
      [...stderr.matchAll(/^imported .*\/dist\/bundle\/([a-z-]+)-[A-Z0-9]+\.js$/gm)]
        .map((m) => m[1] ?? '')
        .filter((name) => COMMAND_MODULES.includes(name));
    const help = await idgate(['--help'], logged);
    assert.equal(help.code, 0, help.stderr);
    assert.deepEqual(commandChunks(help.stderr), []);
    // The same observation sees a command load: the test can tell.
    const sessionsHelp = await idgate(['sessions', '--help'], logged);
    assert.deepEqual(commandChunks(sessionsHelp.stderr), ['sessions']);
  });

  it('prints its version alone with --version, and the help when --help is given as well', async () => {
    const { version } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    const alone = await idgate(['--version']);
    assert.deepEqual([alone.code, alone.stdout, alone.stderr], [0, `${version}\n`, '']);
    const withHelp = await idgate(['--version', '--help']);
    assert.equal(withHelp.code, 0);
    assert.match(withHelp.stdout, /idgate sessions/, 'the help lists the commands');
  });

  it('check validates the file and names what is wrong', async () => {
    const good = writeConfig(0);
    const ok = await idgate(['check', '--config', good], env());
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'entra: { tenant-id: nope }\n');
    const r = await idgate(['check', '--config', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bad\.yaml: entra\.tenant-id: must be the tenant GUID/);
    const json = await idgate(['check', '--json', '--config', bad]);
    assert.equal(json.code, 2, 'an invalid file exits 2 with --json too');
    const answer = JSON.parse(json.stdout) as { valid: boolean; problems: { key: string; message: string }[] };
    assert.equal(answer.valid, false);
    assert.ok(
      answer.problems.some((p) => p.key === 'entra.tenant-id' && /tenant GUID/.test(p.message)),
      json.stdout,
    );
    const valid = JSON.parse((await idgate(['check', '--json', '--config', good], env())).stdout) as Record<string, unknown>;
    assert.deepEqual([valid['valid'], valid['connectionCount'], valid['graph']], [true, 1, undefined]);
  });

  it('check --connect logs in to each upstream and reports a refused credential', async () => {
    const ok = await idgate(['check', '--connect', '--config', writeConfig(0)], env());
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /connection records-api: ok/);
    const wrong = await idgate(['check', '--connect', '--config', writeConfig(1, 'WRONG_PASSWORD')], env());
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /connection records-api: FAILED: .*refused the gateway's credential/);
    assert.ok(!wrong.stdout.includes('not-it'));
    assert.ok(!ok.stdout.includes('WARNING'), 'scope all covers whatever the role may do');
  });

  it('check --connect warns where the upstream role may do more than every scope mapped to it', async () => {
    const r = await idgate(['check', '--connect', '--config', writeConfig(2, 'SYNC_WRITER_PASSWORD', 30, 'read:records')], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /WARNING: the role may INSERT public\.records, which no scope lets it write/);
    assert.match(r.stdout, /WARNING: the role may DELETE public\.records, which no scope lets it write/);
    assert.doesNotMatch(r.stdout, /may SELECT public\.records/);
    const narrow = await idgate(
      ['check', '--connect', '--config', writeConfig(3, 'SYNC_WRITER_PASSWORD', 30, 'read write:records')],
      env(),
    );
    assert.doesNotMatch(narrow.stdout, /public\.records/);
    assert.doesNotMatch(narrow.stdout, /name of a built-in/);
  });

  it('check --connect says what scoped sessions will meet on the upstream: a LATIN1 database limits them to ASCII names', async () => {
    await h.cluster.sql("CREATE DATABASE latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    const file = writeConfig(5, 'SYNC_WRITER_PASSWORD', 30, 'read:records');
    writeFileSync(file, readFileSync(file, 'utf8').replace('database: records', 'database: latin1'));
    const r = await idgate(['check', '--connect', '--config', file], env());
    assert.match(
      r.stdout,
      /WARNING: the server's encoding is LATIN1: scoped sessions may name tables, schemas and functions in ASCII only/,
    );
    const utf8 = await idgate(['check', '--connect', '--config', writeConfig(6, 'SYNC_WRITER_PASSWORD', 30, 'read:records')], env());
    assert.doesNotMatch(utf8.stdout, /scoped sessions/);
  });

  it('check --connect names the overloads of built-in names on the search path that scoped sessions refuse, and not an extension’s', async () => {
    await h.cluster.sql(
      [
        'CREATE EXTENSION IF NOT EXISTS citext',
        "CREATE FUNCTION public.lower(integer) RETURNS text LANGUAGE sql AS 'SELECT 1::text'",
        "CREATE FUNCTION public.int_eq_any(integer, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        'CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = text, FUNCTION = int_eq_any)',
      ].join('; '),
      'records',
    );
    try {
      const r = await idgate(['check', '--connect', '--config', writeConfig(4, 'SYNC_WRITER_PASSWORD', 30, 'read write:records')], env());
      assert.match(
        r.stdout,
        /WARNING: scoped sessions refuse the built-in names these overload on the search path \(the server could call them instead\): function public\.lower\(integer\), operator public\.=\(integer, text\)/,
      );
      // citext's overloads (an extension's, not volatile) are not among them.
      assert.doesNotMatch(r.stdout, /citext/);
    } finally {
      await h.cluster.sql(
        'DROP OPERATOR public.= (integer, text); DROP FUNCTION public.int_eq_any(integer, text); DROP FUNCTION public.lower(integer); DROP EXTENSION citext',
        'records',
      );
    }
  });

  it('seals, at the next start, the sessions a killed gateway left open: gateway-lost at their last event, and verify passes', async () => {
    const port = await freePort();
    const file = writeConfig(port, 'SYNC_WRITER_PASSWORD', 1, 'all');
    const db = join(dir, 'recordings', 'audit.db');
    const conninfo = `host=127.0.0.1 port=${port} dbname=${CONNECTION} user=killed-agent sslmode=require`;
    const first = await startIdgate(['serve', '--config', file], /gateway listening/, env());
    const open = run('psql', ['-X', '-A', '-t', conninfo, '-c', "SELECT 'before the kill'", '-c', 'SELECT pg_sleep(30)'], {
      env: { ...process.env, PGPASSWORD: await h.token() },
    }).catch((e: { stderr: string }) => e.stderr);
    // Long enough for the first statement's events to reach the database (batches every 100 ms).
    await new Promise((r) => setTimeout(r, 1500));
    first.child.kill('SIGKILL');
    await first.exited;
    await open;
    const lostBefore = (await sessionsOf(db)).filter((s) => s['clientUser'] === 'killed-agent');
    assert.deepEqual(
      lostBefore.map((s) => s['endReason']),
      [null],
      'the killed gateway left its session open',
    );
    const second = await startIdgate(['serve', '--config', file], /gateway listening/, env());
    try {
      let lost: Record<string, unknown>[] = [];
      for (let i = 0; i < 50 && lost.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        lost = (await sessionsOf(db)).filter((s) => s['clientUser'] === 'killed-agent' && s['endReason'] === 'gateway-lost');
      }
      assert.equal(lost.length, 1, 'sealed as gateway-lost by the next gateway on the same database');
      const [session] = lost;
      const shown = await idgate(['show', String(session?.['id']), '--json', '--db', db]);
      const times = shown.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(
        times.some((l) => l['type'] === 'statement' && String(l['sql']).includes('before the kill')),
        'the statement recorded before the kill is kept',
      );
      assert.ok(Number(session?.['endUs']) > Number(session?.['startUs']), 'ended at its last event, not at the restart');
      const verify = await idgate(['verify', '--db', db]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(second.output(), /"sessions":1,"msg":"sessions a gateway that died had left open were sealed as gateway-lost"/);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('serve reloads connections and identity-map at SIGHUP, and keeps the configuration in force when the file is bad', async () => {
    const port = await freePort();
    const file = writeConfig(port, 'SYNC_WRITER_PASSWORD', 1, 'all');
    const gw = await startIdgate(['serve', '--config', file], /gateway listening/, env());
    try {
      const conninfo = `host=127.0.0.1 port=${port} dbname=${CONNECTION} user=cli-agent sslmode=require`;
      const open = run('psql', ['-X', '-A', '-t', conninfo, '-c', "SELECT 'reload', pg_sleep(20)"], {
        env: { ...process.env, PGPASSWORD: await h.token() },
      }).then(
        () => 'finished',
        (e: { stderr: string }) => e.stderr,
      );
      await h.untilRunning("SELECT 'reload', pg_sleep(20)");
      const narrowed = readFileSync(writeConfig(port, 'SYNC_WRITER_PASSWORD', 1, 'read'), 'utf8');
      writeFileSync(file, narrowed);
      gw.child.kill('SIGHUP');
      assert.match(await open, /configuration no longer grants this access/);
      assert.match(gw.output(), /"endedSessions":1,"msg":"configuration reloaded"/);
      writeFileSync(file, 'entra: { tenant-id: nope }\n');
      gw.child.kill('SIGHUP');
      for (let i = 0; i < 50 && !gw.output().includes('configuration not reloaded'); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(gw.output(), /entra\.tenant-id: must be the tenant GUID.*configuration not reloaded/);
      const { stdout } = await run('psql', ['-X', '-A', '-t', conninfo, '-c', 'SELECT 1'], {
        env: { ...process.env, PGPASSWORD: await h.token() },
      });
      assert.equal(stdout.trim(), '1', 'the gateway serves on with the configuration in force');
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  });

  it('serve runs the gateway with JSON logs, and SIGTERM drains open sessions then stops', async () => {
    const port = await freePort();
    const gw = await startIdgate(['serve', '--config', writeConfig(port, 'SYNC_WRITER_PASSWORD', 1)], /gateway listening/, env());
    const token = await h.token();
    const conninfo = `host=127.0.0.1 port=${port} dbname=${CONNECTION} user=cli-agent sslmode=require`;
    const { stdout } = await run('psql', ['-X', '-A', '-t', conninfo, '-c', 'SELECT current_user'], {
      env: { ...process.env, PGPASSWORD: token },
    });
    assert.equal(stdout.trim(), 'sync_writer');
    // A session that stays open past the drain deadline is ended with 57P01.
    const open = run('psql', ['-X', '-A', '-t', conninfo, '-c', "SELECT 'drain', pg_sleep(20)"], {
      env: { ...process.env, PGPASSWORD: token },
    }).then(
      () => 'finished',
      (e: { stderr: string }) => e.stderr,
    );
    await h.untilRunning("SELECT 'drain', pg_sleep(20)");
    gw.child.kill('SIGTERM');
    const code = await gw.exited;
    assert.equal(code, 0);
    assert.match(await open, /terminating connection because the gateway is shutting down/);
    const lines = gw
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    assert.ok(lines.every((l) => JSON.parse(l).service === 'idgate'));
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'gateway stopped'));
    assert.ok(!gw.output().includes(token.split('.')[2] ?? 'x'), 'no token in the logs');
  });

  it('serve refuses to start on an invalid config', async () => {
    const bad = join(dir, 'bad2.yaml');
    writeFileSync(bad, 'listen: { port: 1 }\nunknown-section: 1\n');
    const r = await idgate(['serve', '--config', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bad2\.yaml: \(top level\): .*unknown-section/);
  });

  it('dev starts everything with no configuration, prints a working psql command, and cleans up on Ctrl-C', async () => {
    const dev = await startIdgate(['dev', '--port', '0', '--log-level', 'warn'], /Ctrl-C stops everything/);
    const configFile = /idgate status --config (\S+)/.exec(dev.output())?.[1];
    const envFile = /set -a; \. (\S+); set \+a/.exec(dev.output())?.[1];
    assert.ok(configFile && envFile, dev.output());
    // The printed lines, as a person pastes them: the env file sourced, then each command with --config.
    const secrets = Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => /^(\w+)='([^']*)'$/.exec(l)?.slice(1, 3) ?? []),
    ) as Record<string, string>;
    assert.deepEqual(Object.keys(secrets).sort(), ['IDGATE_DEV_ADMIN_TOKEN', 'IDGATE_DEV_GRAPH_SECRET', 'IDGATE_DEV_PASSWORD']);
    assert.equal(statSync(envFile).mode & 0o077, 0, "the env file is the owner's alone");
    const cli = (args: string[]) => idgate([...args, '--config', configFile], secrets);
    // The bound it prints is the configuration's: a recheck may read an answer cached for cache-seconds.
    assert.match(dev.output(), /its open session ends within 10 s \(recheck-seconds \+ cache-seconds\)/);
    const command = /PGPASSWORD='([^']+)' psql "([^"]+)"/.exec(dev.output());
    assert.ok(command, dev.output());
    const [, token, conninfo] = command;
    const { stdout } = await run('psql', ['-X', '-A', '-t', conninfo ?? '', '-c', 'SELECT count(*) FROM records'], {
      env: { ...process.env, PGPASSWORD: token },
    });
    assert.equal(stdout.trim(), '3');
    await new Promise((r) => setTimeout(r, 300)); // the writer's batch interval is a few ms
    const listed = await cli(['sessions', '--json']);
    const first = JSON.parse(listed.stdout.trim().split('\n')[0] ?? '{}') as Record<string, unknown>;
    assert.equal(first['clientUser'], 'demo-agent');
    assert.equal((first['identity'] as Record<string, unknown>)['displayName'], 'demo-agent', 'named by Graph, not by its label');
    assert.match(first['mapping'] as string, /^demo-agents \(entra-group:/);
    assert.equal((await cli(['verify'])).code, 0);
    assert.equal((await cli(['check', '--connect'])).code, 0);
    const appId = /The demo agent \(application (\S+)\)/.exec(dev.output())?.[1] ?? '';
    const reach = await cli(['reach', appId]);
    assert.equal(reach.code, 0, reach.stderr);
    assert.match(reach.stdout, /demo-agent .*: enabled\n[\s\S]*records-api\s+demo-agents/);
    const identities = await cli(['identities']);
    assert.equal(identities.code, 0, identities.stderr);
    assert.match(identities.stdout, /demo-agent/);
    const metricsUrl = /curl -H "Authorization: Bearer \$IDGATE_DEV_ADMIN_TOKEN" (\S+)/.exec(dev.output())?.[1] ?? '';
    const metrics = await fetch(metricsUrl, { headers: { authorization: `Bearer ${secrets['IDGATE_DEV_ADMIN_TOKEN'] ?? ''}` } });
    assert.equal(metrics.status, 200);
    assert.equal((await fetch(metricsUrl)).status, 401, 'the dev admin endpoint wants its token');
    // A live session shows in status, and terminate ends it.
    const live = spawn('psql', ['-X', '-q', conninfo ?? ''], {
      env: { ...process.env, PGPASSWORD: token },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let liveErr = '';
    live.stderr.on('data', (c: Buffer) => (liveErr += c.toString()));
    live.stdin.write("SELECT current_setting('idgate.session_id');\n");
    let liveId = '';
    for (let i = 0; i < 100 && liveId === ''; i++) {
      const status = await cli(['status', '--json']);
      liveId =
        status.stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { id: string })
          .at(0)?.id ?? '';
      if (liveId === '') await new Promise((r) => setTimeout(r, 100));
    }
    assert.notEqual(liveId, '', 'status lists the live psql session');
    assert.equal((await cli(['terminate', liveId])).code, 0);
    await new Promise((r) => setTimeout(r, 200));
    live.stdin.end('SELECT 1;\n'); // psql reads the FATAL when it next speaks
    await once(live, 'exit');
    assert.match(liveErr, /terminating connection due to administrator command/);

    // The printed agent flow: a token from the simulated token endpoint, then the disable/enable round trip.
    const secret = /export DEMO_AGENT_SECRET='([^']+)'/.exec(dev.output())?.[1];
    const tokenArgs = /\$\(node bin\/idgate (token [^)]+)\)/.exec(dev.output())?.[1]?.split(' ');
    assert.ok(secret && tokenArgs, dev.output());
    const fetched = await idgate(tokenArgs, { DEMO_AGENT_SECRET: secret });
    assert.equal(fetched.code, 0, fetched.stderr);
    const agentToken = fetched.stdout.trim();
    const psql = (pgpassword: string) =>
      run('psql', ['-X', '-A', '-t', conninfo ?? '', '-c', 'SELECT 1'], { env: { ...process.env, PGPASSWORD: pgpassword } });
    assert.equal((await psql(agentToken)).stdout.trim(), '1');
    const [disable, enable] = [...dev.output().matchAll(/curl --cacert (\S+) -X POST (\S+)/g)].map((m) => ({
      ca: m[1] ?? '',
      url: m[2] ?? '',
    }));
    assert.ok(disable && enable, dev.output());
    const adminHttp = new EntraHttp({ ca: readFileSync(disable.ca), timeoutMs: 2000 });
    assert.equal((await adminHttp.post(disable.url, {}, '')).status, 200);
    let refused = '';
    for (let i = 0; i < 80 && refused === ''; i++) {
      // Within cache-seconds (5 in dev) the last answer stands; then the login is refused.
      refused = await psql(agentToken).then(
        () => '',
        (e: Error & { stderr?: string }) => e.stderr ?? '',
      );
      if (refused === '') await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(refused, /identity disabled in Entra/);
    assert.equal((await adminHttp.post(enable.url, {}, '')).status, 200);
    adminHttp.close();
    const pgPort = /Postgres on 127\.0\.0\.1:(\d+)/.exec(dev.output())?.[1];
    dev.child.kill('SIGINT');
    assert.equal(await dev.exited, 0);
    const { stdout: procs } = await run('ps', ['-eo', 'args']);
    assert.ok(!procs.includes(`-p ${pgPort}`), 'the dev Postgres must be stopped');
    assert.ok(!existsSync(envFile) && !existsSync(configFile), 'its configuration and secrets are removed with it');
  });
});
