import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { LoginAttempt, SessionHeader, WriterBatch } from '../../../src/audit/audit-event.js';
import { eventHash } from '../../../src/audit/audit-hash.js';
import { HASH_BYTES, readSegment, SegmentBuilder } from '../../../src/audit/event-segment.js';
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
    mapping: { entry: '#0 entra-group:g', connection: 'records-api', scope: 'read', record: true },
    clientAddress: '127.0.0.1',
    clientTls: true,
    upstream: '127.0.0.1:5432/records',
  };
}

const EMPTY: WriterBatch = { starts: [], events: [], ends: [], logins: [] };

/** Three sessions of four events each (in two segments), ended in order, plus login attempts; the oldest 100 days ago. */
function fixture(path: string): void {
  const store = new AuditStore(path, { nodeId: 'gw-a' });
  const now = Date.now() * 1000;
  ['s1', 's2', 's3'].forEach((id, i) => {
    const start = now - (100 - i * 50) * DAY;
    const login: LoginAttempt = {
      atUs: start,
      accepted: true,
      reason: 'accepted',
      message: 'ok',
      sessionId: id,
      clientAddress: '127.0.0.1',
    };
    store.apply({ ...EMPTY, starts: [header(id, start)], logins: [login] });
    for (let n = 0; n < 2; n++) {
      const segment = new SegmentBuilder();
      segment.append(start + n * 10 + 1, 'client', 'Query', 0, 0, Buffer.from(JSON.stringify({ sql: `SELECT ${n}` })));
      segment.append(start + n * 10 + 2, 'server', 'CommandComplete', 1, 0, Buffer.from(JSON.stringify({ tag: 'SELECT 1', rows: 1 })));
      store.apply({ ...EMPTY, events: [{ sessionId: id, ...segment.take() }] });
    }
    store.apply({
      ...EMPTY,
      ends: [{ sessionId: id, end: { endedAtUs: start + 100, reason: 'client-terminated', bytesFromClient: 10, bytesToClient: 20 } }],
    });
  });
  store.close();
}

/** A stored event as a tamperer sees it: its position, the bytes its hash covers, the hash. */
interface StoredRecord {
  readonly seq: number;
  readonly hashed: Buffer;
  readonly hash: Buffer;
}

/** Rewrites the stored events of a session with `change` (a tamperer with the file in hand), one row per event so positions stay as given. */
function editRecords(db: Database.Database, sessionId: string, change: (records: StoredRecord[]) => StoredRecord[]): void {
  const segments = db.prepare('SELECT first_seq, lines FROM event_segments WHERE session_id = ? ORDER BY first_seq').all(sessionId) as {
    first_seq: number;
    lines: Buffer;
  }[];
  const records = segments.flatMap((s) =>
    readSegment(s.lines).records.map((r, i) => ({ seq: s.first_seq + i, hashed: Buffer.from(r.hashed), hash: Buffer.from(r.hash) })),
  );
  db.prepare('DELETE FROM event_segments WHERE session_id = ?').run(sessionId);
  const insert = db.prepare('INSERT INTO event_segments VALUES (?, ?, ?, ?)');
  for (const r of change(records)) insert.run(sessionId, r.seq, r.seq, Buffer.concat([Buffer.alloc(HASH_BYTES), r.hashed, r.hash]));
}

/** The record with its body's bytes changed (the length prefix follows). */
function withBody(r: StoredRecord, edit: (body: Buffer) => Buffer): StoredRecord {
  const body = edit(Buffer.from(r.hashed.subarray(4)));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return { ...r, hashed: Buffer.concat([length, body]) };
}

const replaceText =
  (from: string, to: string) =>
  (body: Buffer): Buffer =>
    Buffer.from(body.toString('latin1').replace(from, to), 'latin1');
const setUInt32 =
  (offset: number, value: number) =>
  (body: Buffer): Buffer => {
    body.writeUInt32BE(value, offset);
    return body;
  };
const addToTime =
  (delta: number) =>
  (body: Buffer): Buffer => {
    body.writeDoubleBE(body.readDoubleBE(0) + delta, 0);
    return body;
  };

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
  function tampered(change: string | ((db: Database.Database) => void)): Finding[] {
    const path = join(dir, `copy-${++copies}.db`);
    copyFileSync(pristine, path);
    const db = new Database(path);
    if (typeof change === 'string') db.exec(change);
    else change(db);
    const findings = verifyAudit(db).findings;
    db.close();
    return findings;
  }

  it('reads how a database began: created with nothing known before it, or continuing a removed one (a discontinuity)', () => {
    const db = new Database(pristine, { readonly: true });
    const created = verifyAudit(db);
    db.close();
    assert.equal(created.origin?.kind, 'created');
    assert.equal(created.origin?.nodeId, 'gw-a');
    const path = join(dir, 'replacement.db');
    const store = new AuditStore(path, {
      nodeId: 'gw-a',
      replaces: {
        logId: 'the-old-log',
        heads: { sealSeq: 3, sealHash: created.head, loginSeq: 3, loginHash: 'f'.repeat(64) },
        noticedBy: 'running-process',
      },
    });
    const now = Date.now() * 1000;
    store.apply({
      ...EMPTY,
      starts: [header('s4', now)],
      logins: [{ atUs: now, accepted: true, reason: 'accepted', message: 'ok', sessionId: 's4', clientAddress: '127.0.0.1' }],
    });
    store.apply({
      ...EMPTY,
      ends: [{ sessionId: 's4', end: { endedAtUs: now + 1, reason: 'client-terminated', bytesFromClient: 1, bytesToClient: 1 } }],
    });
    store.close();
    const replaced = new Database(path, { readonly: true });
    const report = verifyAudit(replaced);
    const seals = replaced.prepare('SELECT seal_seq FROM sessions').all();
    replaced.close();
    assert.deepEqual(seals, [{ seal_seq: 4 }], 'the chains continue from the heads it names');
    assert.deepEqual(
      report.findings.map((f) => [f.kind, f.where]),
      [['discontinuity', 'log origin']],
      JSON.stringify(report.findings),
    );
    assert.match(report.findings[0]?.detail ?? '', new RegExp(`continues that one's chains from seal hash ${created.head}`));
  });

  it('passes an untouched database', () => {
    const db = new Database(pristine, { readonly: true });
    const report = verifyAudit(db);
    db.close();
    assert.deepEqual(report.findings, []);
    assert.equal(report.sessions, 3);
    assert.equal(report.events, 12);
    assert.equal(report.logins, 3);
  });

  const cases: [string, string | ((db: Database.Database) => void), Finding['kind'], RegExp][] = [
    [
      'an edited statement',
      (db) => editRecords(db, 's2', (l) => l.map((r) => withBody(r, replaceText('SELECT 0', 'SELECT 666')))),
      'edited',
      /event s2#1/,
    ],
    [
      'an edited outcome flag',
      (db) => editRecords(db, 's1', (l) => l.map((r, i) => (i === 1 ? withBody(r, setUInt32(13, 1)) : r))),
      'edited',
      /event s1#2/,
    ],
    [
      'an edited timestamp',
      (db) => editRecords(db, 's3', (l) => l.map((r, i) => (i === 2 ? withBody(r, addToTime(1)) : r))),
      'edited',
      /event s3#3/,
    ],
    ['a deleted event', (db) => editRecords(db, 's2', (l) => l.filter((_, i) => i !== 1)), 'deleted', /event s2#2/],
    ['a deleted last event', (db) => editRecords(db, 's2', (l) => l.slice(0, 3)), 'deleted', /s2/],
    ['an appended event', (db) => editRecords(db, 's1', (l) => [...l, { ...(l[3] as StoredRecord), seq: 5 }]), 'inserted', /event s1#5/],
    [
      'two events swapped',
      (db) =>
        editRecords(db, 's1', (l) => [
          { ...(l[2] as StoredRecord), seq: 1 },
          l[1] as StoredRecord,
          { ...(l[0] as StoredRecord), seq: 3 },
          l[3] as StoredRecord,
        ]),
      'reordered',
      /event s1#[13]/,
    ],
    ['a whole segment deleted', "DELETE FROM event_segments WHERE session_id = 's3' AND first_seq = 1", 'deleted', /event s3#1/],
    ['an edited session header', "UPDATE sessions SET identity_oid = 'someone-else' WHERE id = 's2'", 'edited', /session s2/],
    ['an edited session summary', "UPDATE sessions SET errors = 0, statements = 1 WHERE id = 's1'", 'edited', /session s1/],
    ['a deleted session', "DELETE FROM event_segments WHERE session_id = 's2'; DELETE FROM sessions WHERE id = 's2'", 'deleted', /seal 2/],
    [
      'two sessions swapped in the chain',
      "UPDATE sessions SET seal_seq = -1 WHERE id = 's1'; UPDATE sessions SET seal_seq = 1 WHERE id = 's2'; UPDATE sessions SET seal_seq = 2 WHERE id = 's1'",
      'edited',
      /session s[12]/,
    ],
    ['a session moved to another node', "UPDATE sessions SET node_id = 'gw-b' WHERE id = 's2'", 'edited', /session s2/],
    ['a session whose node was erased', "UPDATE sessions SET node_id = NULL WHERE id = 's3'", 'edited', /session s3/],
    ['a login attempt moved to another node', "UPDATE login_attempts SET node_id = 'gw-b' WHERE seq = 3", 'edited', /login attempt #3/],
    ['a deleted login attempt', 'DELETE FROM login_attempts WHERE seq = 2', 'deleted', /login attempt #2/],
    ['an edited login attempt', 'UPDATE login_attempts SET accepted = 0 WHERE seq = 1', 'edited', /login attempt #1/],
  ];
  for (const [name, sql, kind, where] of cases) {
    it(`names ${name}`, () => {
      const findings = tampered(sql);
      assert.ok(
        findings.some((f) => f.kind === kind && where.test(f.where)),
        JSON.stringify(findings),
      );
    });
  }

  it('names the node that wrote the row where a chain breaks', () => {
    const findings = tampered("UPDATE sessions SET identity_oid = 'someone-else' WHERE id = 's2'");
    assert.equal(findings.find((f) => f.where === 'session s2')?.node, 'gw-a');
  });

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
    store.apply({
      starts: [header('s4', now)],
      events: [],
      ends: [{ sessionId: 's4', end: { endedAtUs: now + 1, reason: 'client-terminated', bytesFromClient: 0, bytesToClient: 0 } }],
      logins: [{ atUs: now, accepted: false, reason: 'token-expired', message: 'token has expired', clientAddress: '127.0.0.1' }],
    });
    store.close();
    const again = new Database(path);
    assert.deepEqual(verifyAudit(again).findings, []);
    assert.equal(verifyAudit(again).sessions, 3);
    again.exec("DELETE FROM sessions WHERE id = 's2'");
    assert.ok(
      verifyAudit(again).findings.some((f) => f.kind === 'deleted'),
      'deleting inside the kept range is still caught',
    );
    again.close();
  });

  it('still reads and verifies the text segments of databases written before schema 11', () => {
    const path = join(dir, 'legacy.db');
    const store = new AuditStore(path);
    const start = Date.now() * 1000;
    store.apply({ ...EMPTY, starts: [header('old', start)] });
    store.close();
    const db = new Database(path);
    const head = (db.prepare("SELECT head_hash FROM sessions WHERE id = 'old'").get() as { head_hash: string }).head_hash;
    const bodies = [
      `${start + 1}\tclient\tQuery\t\t{"sql":"SELECT 1"}`,
      `${start + 2}\tserver\tCommandComplete\t1:0\t{"tag":"SELECT 1","rows":1}`,
    ];
    const first = eventHash(head, 'old', 1, bodies[0] ?? '');
    const second = eventHash(first, 'old', 2, bodies[1] ?? '');
    db.prepare('INSERT INTO event_segments VALUES (?, 1, 2, ?)').run('old', `1\t${first}\t${bodies[0]}\n2\t${second}\t${bodies[1]}`);
    db.prepare("UPDATE sessions SET event_count = 2, last_event_hash = ?, statements = 1 WHERE id = 'old'").run(second);
    assert.deepEqual(verifyAudit(db).findings, []);
    db.prepare('UPDATE event_segments SET lines = replace(lines, ?, ?)').run('SELECT 1"', 'SELECT 2"');
    assert.ok(verifyAudit(db).findings.some((f) => f.kind === 'edited' && f.where === 'event old#1'));
    db.close();
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
    editRecords(db, 's3', (l) => l.map((r) => withBody(r, replaceText('SELECT 0', 'DROP TABLE records'))));
    db.close();
    const bad = await idgate(['verify', '--db', path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /TAMPERED \(edited\) event s3#1/);
  });
});
