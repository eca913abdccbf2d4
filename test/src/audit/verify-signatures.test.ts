import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { WriterBatch } from '../../../src/audit/audit-event.js';
import { loginHash, pruneHash, sealHash, sessionHeadHash } from '../../../src/audit/audit-hash.js';
import type { LoginRow, SessionRow } from '../../../src/audit/audit-rows.js';
import { AuditStore } from '../../../src/audit/audit-store.js';
import { SegmentBuilder } from '../../../src/audit/event-segment.js';
import { NodeKey } from '../../../src/signing/node-key.js';
import { pruneAudit } from '../../../src/audit/prune-audit.js';
import { TrustList } from '../../../src/audit/trust-list.js';
import { verifyAudit, type Finding } from '../../../src/audit/verify-audit.js';
import { idgate } from '../../support/cli.js';
import { sessionHeader } from '../../support/session-header.js';

const DAY = 86_400_000_000;
const EMPTY: WriterBatch = { starts: [], events: [], ends: [], logins: [] };

/** Sessions s1..sN, each with a login, two events and a seal; the first ones 100 days old. */
function record(store: AuditStore, ids: readonly string[], ageDays = (i: number): number => 100 - i * 40): void {
  const now = Date.now() * 1000;
  ids.forEach((id, i) => {
    const start = now - ageDays(i) * DAY;
    store.apply({
      ...EMPTY,
      starts: [{ ...sessionHeader(id), startedAtUs: start, identity: { objectId: `oid-${id}`, appId: 'app', tenantId: 't' } }],
      logins: [{ atUs: start, accepted: true, reason: 'accepted', message: 'ok', sessionId: id, clientAddress: '127.0.0.1' }],
    });
    const segment = new SegmentBuilder();
    segment.append(start + 1, 'client', 'Query', 0, 0, Buffer.from(JSON.stringify({ sql: 'SELECT 1' })));
    segment.append(start + 2, 'server', 'CommandComplete', 1, 0, Buffer.from(JSON.stringify({ tag: 'SELECT 1', rows: 1 })));
    store.apply({ ...EMPTY, events: [{ sessionId: id, ...segment.take() }] });
    store.apply({
      ...EMPTY,
      ends: [{ sessionId: id, end: { endedAtUs: start + 10, reason: 'client-terminated', bytesFromClient: 1, bytesToClient: 2 } }],
    });
  });
}

/**
 * A forged session as the central writer or a file writer could build it: a copy of a real one
 * with another id and identity, every hash recomputed, chained after the current head; signed
 * with `signer` if given (an attacker's own key), else carrying the real seal's signature.
 */
function forgeSession(db: Database.Database, signer?: NodeKey): void {
  const real = db.prepare('SELECT * FROM sessions ORDER BY seal_seq DESC LIMIT 1').get() as SessionRow;
  const fake = { ...real, id: 'forged', identity_oid: 'oid-ceo', scope: 'all' };
  const headHash = sessionHeadHash(fake);
  const seal = {
    id: fake.id,
    seal_seq: (real.seal_seq ?? 0) + 1,
    ended_at_us: real.ended_at_us ?? 0,
    end_reason: 'client-terminated',
    bytes_from_client: 1,
    bytes_to_client: 2,
    statements: 0,
    errors: 0,
    event_count: 0,
    head_hash: headHash,
    last_event_hash: headHash,
  };
  const hash = sealHash(real.seal_hash ?? '', seal);
  db.prepare(
    `INSERT INTO sessions (id, protocol, started_at_us, ended_at_us, end_reason, identity_oid, app_id, tenant_id, display_name, client_user, mapping,
       connection, scope, record_mode, client_address, client_tls, upstream, node_id, bytes_from_client, bytes_to_client, statements, errors,
       event_count, head_hash, last_event_hash, seal_seq, seal_hash, seal_signature)
     VALUES (@id, @protocol, @started_at_us, @ended_at_us, @end_reason, @identity_oid, @app_id, @tenant_id, @display_name, @client_user, @mapping,
       @connection, @scope, @record_mode, @client_address, @client_tls, @upstream, @node_id, 1, 2, 0, 0, 0, @head_hash, @head_hash, @seal_seq, @seal_hash, @seal_signature)`,
  ).run({ ...fake, ...seal, seal_hash: hash, seal_signature: signer?.sign('seal', hash) ?? real.seal_signature ?? null });
}

describe('verify with node signatures', () => {
  let dir: string;
  let signed: string;
  const { key } = NodeKey.generate();
  const attacker = NodeKey.generate().key;
  const trustKey = new TrustList(new Map([['gw-a', [key.publicKey]]]));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'idgate-signatures-'));
    signed = join(dir, 'signed.db');
    const store = new AuditStore(signed, { nodeId: 'gw-a', key });
    record(store, ['s1', 's2', 's3']);
    store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let copies = 0;
  function copy(change?: (db: Database.Database) => void, trust = trustKey): ReturnType<typeof verifyAudit> {
    const path = join(dir, `copy-${++copies}.db`);
    copyFileSync(signed, path);
    const db = new Database(path);
    change?.(db);
    const report = verifyAudit(db, trust);
    db.close();
    return report;
  }
  const kinds = (findings: readonly Finding[]): string[] => findings.map((f) => `${f.kind} ${f.where}`);

  it('passes a signed log, names its key as trusted, or as pinned at first sight without a trust list', () => {
    const trusted = copy();
    assert.deepEqual(trusted.findings, []);
    assert.deepEqual(
      trusted.signing.keys.map((k) => [k.publicKey, k.trust]),
      [[key.publicKey, 'trusted']],
    );
    assert.deepEqual(trusted.signing.unsignedBefore, { seals: 0, logins: 0 });
    const pinned = copy(undefined, new TrustList());
    assert.deepEqual(pinned.findings, []);
    assert.equal(pinned.signing.keys[0]?.trust, 'pinned');
  });

  it('catches a session forged with every hash recomputed: without a signature, with a copied one, with another key', () => {
    for (const signer of [undefined, attacker]) {
      const report = copy((db) => forgeSession(db, signer));
      assert.deepEqual(kinds(report.findings), ['forged session forged'], JSON.stringify(report.findings));
      assert.equal(report.findings[0]?.node, 'gw-a');
    }
    const stripped = copy((db) => {
      forgeSession(db);
      db.exec("UPDATE sessions SET seal_signature = NULL WHERE id = 'forged'");
    });
    assert.deepEqual(kinds(stripped.findings), ['unsigned session forged']);
  });

  it('catches a forged login attempt and a login whose session was erased (a session open at a crash, deleted)', () => {
    const forged = copy((db) => {
      const last = db.prepare('SELECT * FROM login_attempts ORDER BY seq DESC LIMIT 1').get() as LoginRow;
      const row = { ...last, seq: last.seq + 1, session_id: null, accepted: 0, reason: 'token-expired' };
      const hash = loginHash(last.hash, row);
      db.prepare(
        `INSERT INTO login_attempts (seq, at_us, accepted, reason, message, session_id, identity_oid, app_id, connection, client_user, client_address, node_id, hash, signature)
         VALUES (@seq, @at_us, @accepted, @reason, @message, @session_id, @identity_oid, @app_id, @connection, @client_user, @client_address, @node_id, @hash, @signature)`,
      ).run({ ...row, hash, signature: attacker.sign('login', hash) });
    });
    assert.deepEqual(kinds(forged.findings), ['forged login attempt #4']);
    // An open session (no seal) erased with its events: only the signed login attempt still names it.
    const path = join(dir, 'open.db');
    copyFileSync(signed, path);
    const store = new AuditStore(path, { nodeId: 'gw-a', key });
    const now = Date.now() * 1000;
    store.apply({
      ...EMPTY,
      starts: [{ ...sessionHeader('open-one'), startedAtUs: now }],
      logins: [{ atUs: now, accepted: true, reason: 'accepted', message: 'ok', sessionId: 'open-one', clientAddress: '127.0.0.1' }],
    });
    store.close();
    const db = new Database(path);
    db.exec("DELETE FROM event_segments WHERE session_id = 'open-one'; DELETE FROM sessions WHERE id = 'open-one'");
    assert.deepEqual(kinds(verifyAudit(db, trustKey).findings), ['deleted session open-one']);
    db.close();
  });

  it('catches a prune checkpoint forged to hide the oldest history, and accepts one the node key signed', () => {
    const forged = copy((db) => {
      const first = db.prepare('SELECT * FROM sessions WHERE seal_seq = 1').get() as SessionRow;
      const login = db.prepare('SELECT * FROM login_attempts WHERE seq = 1').get() as LoginRow;
      db.prepare('DELETE FROM event_segments WHERE session_id = ?').run(first.id);
      db.prepare('DELETE FROM sessions WHERE id = ?').run(first.id);
      db.prepare('DELETE FROM login_attempts WHERE seq = 1').run();
      const fields = {
        at_us: Date.now() * 1000,
        older_than_us: first.ended_at_us ?? 0,
        last_seal_seq: 1,
        last_seal_hash: first.seal_hash,
        last_login_seq: 1,
        last_login_hash: login.hash,
        removed_sessions: 1,
        removed_events: 2,
        removed_logins: 1,
      };
      db.prepare(
        `INSERT INTO prune_checkpoints (at_us, older_than_us, last_seal_seq, last_seal_hash, last_login_seq, last_login_hash, removed_sessions,
           removed_events, removed_logins, public_key, signature)
         VALUES (@at_us, @older_than_us, @last_seal_seq, @last_seal_hash, @last_login_seq, @last_login_hash, @removed_sessions, @removed_events,
           @removed_logins, @public_key, @signature)`,
      ).run({ ...fields, public_key: attacker.publicKey, signature: attacker.sign('prune', pruneHash(fields)) });
    });
    assert.deepEqual(kinds(forged.findings), ['forged prune checkpoint #1'], JSON.stringify(forged.findings));
    const now = Date.now() * 1000;
    const legit = copy((db) => assert.deepEqual(pruneAudit(db, now - 70 * DAY, now, key), { sessions: 1, events: 2, logins: 1 }));
    assert.deepEqual(legit.findings, []);
    assert.deepEqual(
      legit.signing.prunes.map((p) => [p.sessions, p.logins, p.signed]),
      [[1, 1, true]],
    );
    assert.throws(() => copy((db) => pruneAudit(db, now - 70 * DAY, now)), /this log is signed with .*: prune needs that node key/);
    assert.throws(() => copy((db) => pruneAudit(db, now - 70 * DAY, now, attacker)), /prune needs that node key/);
  });

  it('catches signatures stripped from the whole log when the trust list names the node; reports it unsigned otherwise', () => {
    const strip = (db: Database.Database): void => {
      db.exec(
        'DELETE FROM log_keys; UPDATE sessions SET seal_signature = NULL; UPDATE login_attempts SET signature = NULL; UPDATE log_origins SET signature = NULL',
      );
    };
    assert.deepEqual(kinds(copy(strip).findings), ['unsigned log']);
    const untrusted = copy(strip, new TrustList());
    assert.deepEqual(untrusted.findings, []);
    assert.deepEqual(untrusted.signing.keys, []);
  });

  it('vouches for no log of a node the trust list does not name: renamed and re-signed with another key, it fails', () => {
    const path = join(dir, 'renamed.db');
    const store = new AuditStore(path, { nodeId: 'gw-unlisted', key: attacker });
    record(store, ['r1']);
    store.close();
    const db = new Database(path);
    assert.deepEqual(kinds(verifyAudit(db, trustKey).findings), ['untrusted-key log']);
    assert.deepEqual(verifyAudit(db, new TrustList()).findings, [], 'without a trust list it is pinned (with the warning the CLI prints)');
    db.close();
  });

  it('believes a new key only when the trust list names it, and catches a key row edited or not signed by its key', () => {
    const path = join(dir, 'rotated.db');
    copyFileSync(signed, path);
    const rotated = NodeKey.generate().key;
    const store = new AuditStore(path, { nodeId: 'gw-a', key: rotated });
    record(store, ['s4'], () => 1);
    store.close();
    const check = (trust: TrustList, change?: (db: Database.Database) => void): string[] => {
      const db = new Database(path);
      db.exec('SAVEPOINT t');
      change?.(db);
      const found = kinds(verifyAudit(db, trust).findings);
      db.exec('ROLLBACK TO t');
      db.close();
      return found;
    };
    assert.deepEqual(check(new TrustList(new Map([['gw-a', [key.publicKey, rotated.publicKey]]]))), []);
    assert.deepEqual(check(trustKey), ['untrusted-key key row #2', 'forged session s4', 'forged login attempt #4']);
    assert.deepEqual(check(new TrustList()), ['untrusted-key key row #2', 'forged session s4', 'forged login attempt #4']);
    const both = new TrustList(new Map([['gw-a', [key.publicKey, rotated.publicKey]]]));
    // An edited key row no longer carries its key's signature: it is refused, and what its key signed is then not believed.
    assert.deepEqual(
      check(both, (db) => db.exec('UPDATE log_keys SET from_seal_seq = 0 WHERE id = 2')),
      ['forged key row #2', 'forged session s4', 'forged login attempt #4'],
    );
  });

  it('keeps a log begun without a key verifiable when a key arrives: earlier rows are vouched for by the key row', () => {
    const path = join(dir, 'upgraded.db');
    const plain = new AuditStore(path, { nodeId: 'gw-a' });
    record(plain, ['u1', 'u2']);
    plain.close();
    const keyed = new AuditStore(path, { nodeId: 'gw-a', key });
    record(keyed, ['u3'], () => 1);
    keyed.close();
    const db = new Database(path);
    const report = verifyAudit(db, trustKey);
    assert.deepEqual(report.findings, []);
    assert.deepEqual(report.signing.unsignedBefore, { seals: 2, logins: 2 });
    db.exec("UPDATE sessions SET end_reason = 'admin-terminated' WHERE id = 'u1'");
    assert.ok(kinds(verifyAudit(db, trustKey).findings).includes('edited session u1'), 'a row before the key is still chained');
    db.close();
  });

  it('idgate verify prints who signed the log and fails on a forged row; keygen never overwrites a key', async () => {
    const path = join(dir, 'cli.db');
    copyFileSync(signed, path);
    const pinned = await idgate(['verify', '--db', path]);
    assert.equal(pinned.code, 0, pinned.stdout + pinned.stderr);
    assert.match(pinned.stdout, /WARNING: signed by ed25519:\S+ from .*pinned at first sight/);
    const trusted = await idgate(['verify', '--db', path, '--trusted-key', `gw-a=${key.publicKey}`]);
    assert.equal(trusted.code, 0);
    assert.match(
      trusted.stdout,
      new RegExp(`signed: by node gw-a's key ${key.publicKey.replace(/[+/]/g, '\\$&')} \\(in the trust list\\)`),
    );
    const db = new Database(path);
    forgeSession(db, attacker);
    db.close();
    const bad = await idgate(['verify', '--db', path, '--trusted-key', `gw-a=${key.publicKey}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /TAMPERED \(forged\) session forged \(node gw-a\): its seal is not signed by the node's key/);
    assert.equal((await idgate(['verify', '--db', path, '--trusted-key', 'gw-a=nonsense'])).code, 2);
    const keyFile = join(dir, 'node.pem');
    const made = await idgate(['keygen', '--out', keyFile, '--node', 'gw-a']);
    assert.equal(made.code, 0, made.stderr);
    const publicKey = made.stdout.split('\n')[0] ?? '';
    assert.match(made.stdout, new RegExp(`"gw-a": ${publicKey.replace(/[+/]/g, '\\$&')}`));
    const again = await idgate(['keygen', '--out', keyFile]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /cannot create the key file \(it exists\)/);
  });
});
