import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { WriterBatch } from '../../src/audit/audit-event.js';
import { sealHash } from '../../src/audit/audit-hash.js';
import type { SessionRow } from '../../src/audit/audit-rows.js';
import { AuditStore } from '../../src/audit/audit-store.js';
import { pruneAudit } from '../../src/audit/prune-audit.js';
import { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { idgate } from '../support/cli.js';
import { sessionHeader } from '../support/session-header.js';

const DAY = 86_400_000_000;
const EMPTY: WriterBatch = { starts: [], events: [], ends: [], logins: [] };

function record(path: string, ids: readonly string[], ageDays: number): void {
  const store = new AuditStore(path, { nodeId: 'gw-a' });
  const start = Date.now() * 1000 - ageDays * DAY;
  for (const id of ids) {
    store.apply({
      ...EMPTY,
      starts: [{ ...sessionHeader(id), startedAtUs: start }],
      logins: [{ atUs: start, accepted: true, reason: 'accepted', message: 'ok', sessionId: id, clientAddress: '127.0.0.1' }],
    });
    store.apply({
      ...EMPTY,
      ends: [{ sessionId: id, end: { endedAtUs: start + 1, reason: 'client-terminated', bytesFromClient: 1, bytesToClient: 1 } }],
    });
  }
  store.close();
}

/**
 * What signatures and hash chains cannot show — that nothing newer existed — against a log whose
 * newest rows are cut, or whose newest seal is rewritten with its hash recomputed.
 */
describe('anchors', () => {
  let dir: string;
  let pristine: string;
  let cluster: PostgresCluster;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-anchors-'));
    pristine = join(dir, 'pristine.db');
    record(pristine, ['s1', 's2', 's3'], 100);
    cluster = await PostgresCluster.start();
  });
  after(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let copies = 0;
  function copy(): string {
    const path = join(dir, `copy-${++copies}.db`);
    copyFileSync(pristine, path);
    return path;
  }

  /** The newest session and its login attempt removed: what is left is a clean prefix of both chains. */
  function cutNewest(path: string): void {
    const db = new Database(path);
    db.exec(
      "DELETE FROM event_segments WHERE session_id = 's3'; DELETE FROM sessions WHERE id = 's3'; DELETE FROM login_attempts WHERE seq = 3",
    );
    db.close();
  }

  /** The newest session's end rewritten, its seal hash recomputed (the log is unsigned, so nothing else tells). */
  function rewriteNewest(path: string): void {
    const db = new Database(path);
    const s3 = db.prepare("SELECT * FROM sessions WHERE id = 's3'").get() as SessionRow;
    const s2 = db.prepare("SELECT seal_hash FROM sessions WHERE id = 's2'").get() as { seal_hash: string };
    const fields = {
      ...s3,
      end_reason: 'admin-terminated',
      seal_seq: 3,
      ended_at_us: s3.ended_at_us ?? 0,
      bytes_from_client: 1,
      bytes_to_client: 1,
    };
    db.prepare("UPDATE sessions SET end_reason = 'admin-terminated', seal_hash = ? WHERE id = 's3'").run(sealHash(s2.seal_hash, fields));
    db.close();
  }

  for (const target of ['file', 'postgres'] as const) {
    it(`catches, with anchors in a ${target}, the newest rows cut and the newest seal rewritten, which verify alone passes`, async () => {
      const to =
        target === 'file'
          ? join(dir, `anchors-${copies}.jsonl`)
          : `postgres://${cluster.superuser}:${encodeURIComponent(cluster.superuserPassword)}@127.0.0.1:${cluster.port}/postgres?sslmode=disable`;
      const path = copy();
      const anchored = await idgate(['anchor', '--db', path, '--to', to]);
      assert.equal(anchored.code, 0, anchored.stdout + anchored.stderr);
      assert.match(anchored.stdout, /anchored at seal 3, login attempt 3/);
      assert.equal((await idgate(['verify', '--db', path, '--anchors', to])).code, 0);

      const cut = copy();
      // An anchor is per log: the copies share the pristine log's id.
      cutNewest(cut);
      assert.equal((await idgate(['verify', '--db', cut])).code, 0, 'a clean prefix passes verify alone');
      const caught = await idgate(['verify', '--db', cut, '--anchors', to]);
      assert.equal(caught.code, 1, caught.stdout);
      assert.match(caught.stdout, /TAMPERED \(deleted\) anchor of \S+ \(node gw-a\): the log had reached seal 3 then, and now ends at 2/);
      assert.match(caught.stdout, /the log had reached login attempt 3 then, and now ends at 2/);

      const rewritten = copy();
      rewriteNewest(rewritten);
      assert.equal((await idgate(['verify', '--db', rewritten])).code, 0, 'a recomputed hash passes verify alone');
      const edited = await idgate(['verify', '--db', rewritten, '--anchors', to]);
      assert.equal(edited.code, 1);
      assert.match(edited.stdout, /TAMPERED \(edited\) anchor of .*: seal 3 is not the one anchored then/);
    });
  }

  it('lets the log grow and be pruned after an anchor, and refuses an anchor file with a line that is not an anchor', async () => {
    const path = copy();
    const to = join(dir, 'grow.jsonl');
    assert.equal((await idgate(['anchor', '--db', path, '--to', to])).code, 0);
    record(path, ['s4'], 1);
    const db = new Database(path);
    const now = Date.now() * 1000;
    pruneAudit(db, now - 30 * DAY, now);
    db.close();
    const verified = await idgate(['verify', '--db', path, '--anchors', to]);
    assert.equal(verified.code, 0, verified.stdout);
    appendFileSync(to, 'not an anchor\n');
    const bad = await idgate(['verify', '--db', path, '--anchors', to]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /line 2 is not an anchor/);
  });
});
