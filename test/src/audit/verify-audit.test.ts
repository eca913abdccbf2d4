import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { SessionHeader, WriterCommand } from '../../../src/audit/audit-event.js';
import { AuditStore } from '../../../src/audit/audit-store.js';
import { pruneAudit } from '../../../src/audit/prune-audit.js';
import { verifyAudit, type Finding } from '../../../src/audit/verify-audit.js';
import { idgate } from '../../support/cli.js';

const DAY = 86_400_000_000;

function header(id: string, startedAtUs: number): SessionHeader {
  return {
    id,
    protocol: 'postgres',
    startedAtUs,
    identity: { objectId: `oid-${id}`, appId: `app-${id}`, tenantId: 't' },
    clientUser: 'agent',
    mapping: { index: 0, kind: 'entra-group', value: 'g', connection: 'records-api', scope: 'read', record: true },
    clientAddress: '127.0.0.1',
    clientTls: true,
    upstream: '127.0.0.1:5432/records',
  };
}

/** Three sessions of four events each, ended in order, plus login attempts; the oldest 100 days ago. */
function fixture(path: string): void {
  const store = new AuditStore(path);
  const now = Date.now() * 1000;
  const commands: WriterCommand[] = [];
  ['s1', 's2', 's3'].forEach((id, i) => {
    const start = now - (100 - i * 50) * DAY;
    commands.push({ op: 'login', attempt: { atUs: start, accepted: true, reason: 'accepted', message: 'ok', sessionId: id, clientAddress: '127.0.0.1' } });
    commands.push({ op: 'start', header: header(id, start) });
    for (let n = 0; n < 2; n++) {
      commands.push({ op: 'event', sessionId: id, event: { atUs: start + n * 10 + 1, direction: 'client', kind: 'Query', data: { sql: `SELECT ${n}` } } });
      commands.push({ op: 'event', sessionId: id, event: { atUs: start + n * 10 + 2, direction: 'server', kind: 'CommandComplete', data: { tag: 'SELECT 1', rows: 1 }, outcome: 'ok' } });
    }
    commands.push({ op: 'end', sessionId: id, end: { endedAtUs: start + 100, reason: 'client-terminated', bytesFromClient: 10, bytesToClient: 20 } });
  });
  store.apply(commands);
  store.close();
}

describe('verify', () => {
  let dir: string;
  let pristine: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-verify-'));
    pristine = join(dir, 'pristine.db');
    fixture(pristine);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let copies = 0;
  function tampered(sql: string): Finding[] {
    const path = join(dir, `copy-${++copies}.db`);
    copyFileSync(pristine, path);
    const db = new Database(path);
    db.exec(sql);
    const findings = verifyAudit(db).findings;
    db.close();
    return findings;
  }

  it('passes an untouched database', () => {
    const db = new Database(pristine, { readonly: true });
    const report = verifyAudit(db);
    db.close();
    assert.deepEqual(report.findings, []);
    assert.equal(report.sessions, 3);
    assert.equal(report.events, 12);
    assert.equal(report.logins, 3);
  });

  const cases: [string, string, Finding['kind'], RegExp][] = [
    ['an edited statement', "UPDATE events SET data = '{\"sql\":\"SELECT 666\"}' WHERE session_id = 's2' AND seq = 1", 'edited', /event s2#1/],
    ['an edited outcome flag', "UPDATE events SET outcome = 'error' WHERE session_id = 's1' AND seq = 2", 'edited', /event s1#2/],
    ['an edited timestamp', "UPDATE events SET at_us = at_us + 1 WHERE session_id = 's3' AND seq = 3", 'edited', /event s3#3/],
    ['a deleted event', "DELETE FROM events WHERE session_id = 's2' AND seq = 2", 'deleted', /event s2#2/],
    ['a deleted last event', "DELETE FROM events WHERE session_id = 's2' AND seq = 4", 'deleted', /s2/],
    ['an appended event', "INSERT INTO events SELECT session_id, 5, at_us + 1, direction, kind, data, outcome, hash FROM events WHERE session_id = 's1' AND seq = 4", 'inserted', /event s1#5/],
    ['two events swapped', "UPDATE events SET seq = -1 WHERE session_id = 's1' AND seq = 1; UPDATE events SET seq = 1 WHERE session_id = 's1' AND seq = 3; UPDATE events SET seq = 3 WHERE session_id = 's1' AND seq = -1", 'reordered', /event s1#[13]/],
    ['an edited session header', "UPDATE sessions SET identity_oid = 'someone-else' WHERE id = 's2'", 'edited', /session s2/],
    ['an edited session summary', "UPDATE sessions SET errors = 0, statements = 1 WHERE id = 's1'", 'edited', /session s1/],
    ['a deleted session', "DELETE FROM events WHERE session_id = 's2'; DELETE FROM sessions WHERE id = 's2'", 'deleted', /seal 2/],
    ['two sessions swapped in the chain', "UPDATE sessions SET seal_seq = -1 WHERE id = 's1'; UPDATE sessions SET seal_seq = 1 WHERE id = 's2'; UPDATE sessions SET seal_seq = 2 WHERE id = 's1'", 'edited', /session s[12]/],
    ['a deleted login attempt', 'DELETE FROM login_attempts WHERE seq = 2', 'deleted', /login attempt #2/],
    ['an edited login attempt', "UPDATE login_attempts SET accepted = 0 WHERE seq = 1", 'edited', /login attempt #1/],
  ];
  for (const [name, sql, kind, where] of cases) {
    it(`names ${name}`, () => {
      const findings = tampered(sql);
      assert.ok(findings.some((f) => f.kind === kind && where.test(f.where)), JSON.stringify(findings));
    });
  }

  it('does not report pruning as tampering, and pruning keeps the chain verifiable as it grows', () => {
    const path = join(dir, 'pruned.db');
    copyFileSync(pristine, path);
    const db = new Database(path);
    const now = Date.now() * 1000;
    const pruned = pruneAudit(db, now - 90 * DAY, now);
    assert.deepEqual(pruned, { sessions: 1, events: 4, logins: 1 });
    assert.deepEqual(verifyAudit(db).findings, []);
    db.close();
    const store = new AuditStore(path);
    store.apply([
      { op: 'start', header: header('s4', now) },
      { op: 'end', sessionId: 's4', end: { endedAtUs: now + 1, reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 } },
      { op: 'login', attempt: { atUs: now, accepted: false, reason: 'token-expired', message: 'token has expired', clientAddress: '127.0.0.1' } },
    ]);
    store.close();
    const again = new Database(path);
    assert.deepEqual(verifyAudit(again).findings, []);
    assert.equal(verifyAudit(again).sessions, 3);
    again.exec("DELETE FROM sessions WHERE id = 's2'");
    assert.ok(verifyAudit(again).findings.some((f) => f.kind === 'deleted'), 'deleting inside the kept range is still caught');
    again.close();
  });

  it('idgate verify exits 1 and names what was changed; prune --older-than works from the CLI', async () => {
    const path = join(dir, 'cli.db');
    copyFileSync(pristine, path);
    const ok = await idgate(['verify', '--db', path]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 3 sessions, 12 events, 3 login attempts/m);
    const pruned = await idgate(['prune', '--older-than', '90d', '--db', path]);
    assert.match(pruned.stdout, /pruned 1 sessions \(4 events\) and 1 login attempts/);
    assert.equal((await idgate(['verify', '--db', path])).code, 0);
    const db = new Database(path);
    db.exec("UPDATE events SET data = '{\"sql\":\"DROP TABLE records\"}' WHERE session_id = 's3' AND seq = 1");
    db.close();
    const bad = await idgate(['verify', '--db', path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /TAMPERED \(edited\) event s3#1/);
  });
});
