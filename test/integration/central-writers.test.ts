import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loginHash, sealHash, sessionHeadHash } from '../../src/audit/audit-hash.js';
import type { SessionRow } from '../../src/audit/audit-rows.js';
import type { PostgresCluster } from '../../src/dev/postgres-cluster.js';
import { startCentralStore } from '../support/central-store.js';
import { idgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';
import { startNodeProcess, type NodeProcess } from '../support/node-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Two gateways, each signing its log with its own key and shipping with its own writer role, bound
 * to its node (`audit-migrate --writer-role R --node N`). Attacked with the credential of one of
 * them, and with the shared writer role a store migrated without --node has.
 */
describe('a central store whose writer roles are bound to their nodes', () => {
  let central: PostgresCluster;
  let h: Harness;
  let nodeB: NodeProcess;
  let portB: number;
  let ownerUrl: string;
  const keys = new Map<string, string>();
  const passwords = new Map<string, string>();
  let keyDir: string;

  async function makeWriter(role: string, node: string): Promise<string> {
    const password = `pw-${role}-${Date.now()}`;
    await central.sql(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    passwords.set(role, password);
    const migrated = await idgate(['audit-migrate', '--url', ownerUrl, '--writer-role', role, '--node', node]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, new RegExp(`${role} may INSERT and SELECT, only node ${node}'s rows`));
    return `postgres://${role}:${password}@127.0.0.1:${central.port}/audit`;
  }

  async function makeKey(dir: string, node: string): Promise<string> {
    const file = join(dir, `${node}.pem`);
    const made = await idgate(['keygen', '--out', file, '--node', node]);
    assert.equal(made.code, 0, made.stderr);
    keys.set(node, made.stdout.split('\n')[0] ?? '');
    return file;
  }

  before(async () => {
    const store = await startCentralStore();
    central = store.cluster;
    ownerUrl = store.ownerUrl;
    passwords.set('idgate_writer', store.writerPassword);
    const urlA = await makeWriter('writer_a', 'node-a');
    const urlB = await makeWriter('writer_b', 'node-b');
    keyDir = mkdtempSync(join(tmpdir(), 'idgate-node-keys-'));
    const keyA = await makeKey(keyDir, 'node-a');
    const keyB = await makeKey(keyDir, 'node-b');
    h = await Harness.start({ nodeId: 'node-a', recordings: { central: { url: urlA }, 'signing-key-file': keyA } });
    nodeB = await startNodeProcess(h, 'node-b', { central: { url: urlB }, 'signing-key-file': keyB });
    portB = nodeB.port;
  });
  after(async () => {
    await nodeB?.stop();
    await h?.stop();
    await central?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  const trusted = (): string[] => [...keys].flatMap(([node, key]) => ['--trusted-key', `${node}=${key}`]);

  async function as(role: string): Promise<pg.Client> {
    const client = new pg.Client({ host: '127.0.0.1', port: central.port, database: 'audit', user: role, password: passwords.get(role) });
    await client.connect();
    return client;
  }

  async function sessionThrough(port: number, sql: string): Promise<void> {
    const client = new pg.Client(pgOptions(h, await h.token(), { port }));
    await client.connect();
    await client.query(sql);
    await client.end();
  }

  async function sealedCentrally(node: string, count: number): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rows = await central.sql(
        `SELECT count(*) FROM idgate_audit.sessions s JOIN idgate_audit.session_seals se ON se.session_id = s.id WHERE s.node_id = '${node}'`,
        'audit',
      );
      if (Number(rows) >= count) break;
      if (Date.now() > deadline) throw new Error(`${node}: ${rows} of ${count} sessions sealed centrally`);
      await sleep(200);
    }
  }

  /** A row of node-b as the central store holds it, and where node-b's chains stand there. */
  async function nodeBState(reader: pg.Client): Promise<{ session: SessionRow & { log_id: string }; sealHead: string; sealSeq: number }> {
    const session = (
      await reader.query<SessionRow & { log_id: string }>(
        `SELECT s.*, se.seal_seq, se.seal_hash, se.seal_signature, se.ended_at_us FROM idgate_audit.sessions s JOIN idgate_audit.session_seals se ON se.session_id = s.id
         WHERE s.node_id = 'node-b' ORDER BY se.seal_seq DESC LIMIT 1`,
      )
    ).rows[0];
    assert.ok(session !== undefined);
    return { session, sealHead: session.seal_hash ?? '', sealSeq: Number(session.seal_seq) };
  }

  it("refuses at the source what node-a's role writes for node-b: sessions, seals, origins, logins, checkpoints, bindings", async () => {
    await sessionThrough(h.port, 'SELECT 1 AS on_node_a');
    await sessionThrough(portB, 'SELECT 2 AS on_node_b');
    await sealedCentrally('node-a', 1);
    await sealedCentrally('node-b', 1);
    const verified = await idgate(['verify', '--db', ownerUrl, ...trusted()]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /signed: by node node-b's key .* \(in the trust list\)/);

    const a = await as('writer_a');
    try {
      const { session, sealHead, sealSeq } = await nodeBState(a);
      const forged = { ...session, id: 'forged-by-a', identity_oid: 'oid-ceo' };
      const head = sessionHeadHash(forged);
      const attempts: [string, string, unknown[]][] = [
        [
          "a session of node-b's log",
          `INSERT INTO idgate_audit.sessions (id, log_id, node_id, protocol, started_at_us, identity_oid, app_id, tenant_id, client_user, mapping,
             connection, scope, record_mode, client_address, client_tls, upstream, head_hash)
           SELECT $1, log_id, node_id, protocol, started_at_us, 'oid-ceo', app_id, tenant_id, client_user, mapping, connection, 'all', record_mode,
             client_address, client_tls, upstream, $2 FROM idgate_audit.sessions WHERE id = $3`,
          ['forged-by-a', head, session.id],
        ],
        [
          "a session of node-a in node-b's log",
          `INSERT INTO idgate_audit.sessions (id, log_id, node_id, protocol, started_at_us, identity_oid, app_id, tenant_id, client_user, mapping,
             connection, scope, record_mode, client_address, client_tls, upstream, head_hash)
           SELECT $1, log_id, 'node-a', protocol, started_at_us, 'oid-ceo', app_id, tenant_id, client_user, mapping, connection, 'all', record_mode,
             client_address, client_tls, upstream, $2 FROM idgate_audit.sessions WHERE id = $3`,
          ['forged-by-a-2', head, session.id],
        ],
        [
          "node-b's next seal",
          `INSERT INTO idgate_audit.session_seals (session_id, log_id, seal_seq, ended_at_us, end_reason, statements, errors, event_count,
             last_event_hash, seal_hash) VALUES ($1, $2, $3, 1, 'client-terminated', 0, 0, 0, $4, $5)`,
          [session.id, session.log_id, sealSeq + 1, head, sealHash(sealHead, { ...forged, seal_seq: sealSeq + 1 } as never)],
        ],
        [
          "an origin claiming node-b's log for node-a",
          `INSERT INTO idgate_audit.log_origins (log_id, id, at_us, node_id, kind) VALUES ($1, 99, 1, 'node-a', 'created')`,
          [session.log_id],
        ],
        [
          "node-b's next login attempt",
          `INSERT INTO idgate_audit.login_attempts (log_id, seq, at_us, accepted, reason, message, client_address, node_id, hash)
           VALUES ($1, 999, 1, 0, 'token-expired', 'x', '127.0.0.1', 'node-b', $2)`,
          [session.log_id, loginHash('0', { seq: 999 } as never)],
        ],
        [
          'a prune checkpoint',
          `INSERT INTO idgate_audit.prune_checkpoints (log_id, at_us, older_than_us) VALUES ($1, 1, 1)`,
          [session.log_id],
        ],
        ['a binding of its own', `INSERT INTO idgate_audit.node_writers (role, node_id) VALUES ('writer_c', 'node-b')`, []],
      ];
      for (const [what, sql, params] of attempts) {
        await assert.rejects(a.query(sql, params), (e: { code?: string }) => e.code === '42501', what);
      }
    } finally {
      await a.end();
    }
    assert.equal((await idgate(['verify', '--db', ownerUrl, ...trusted()])).code, 0, 'nothing got in');
  });

  it("catches, through node-b's signatures, a session the shared writer role forged for node-b with every hash recomputed", async () => {
    const shared = await as('idgate_writer');
    let forgedSeq = 0;
    try {
      const { session, sealHead, sealSeq } = await nodeBState(shared);
      const forged = { ...session, id: 'forged-by-shared', identity_oid: 'oid-ceo', scope: 'all' };
      const head = sessionHeadHash(forged);
      forgedSeq = sealSeq + 1;
      const seal = {
        id: forged.id,
        seal_seq: forgedSeq,
        ended_at_us: Number(session.ended_at_us),
        end_reason: 'client-terminated',
        bytes_from_client: 0,
        bytes_to_client: 0,
        statements: 0,
        errors: 0,
        event_count: 0,
        head_hash: head,
        last_event_hash: head,
      };
      await shared.query(
        `INSERT INTO idgate_audit.sessions (id, log_id, node_id, protocol, started_at_us, identity_oid, app_id, tenant_id, display_name, client_user,
           mapping, connection, scope, record_mode, client_address, client_tls, upstream, head_hash)
         SELECT $1, log_id, node_id, protocol, started_at_us, $2, app_id, tenant_id, display_name, client_user, mapping, connection, 'all',
           record_mode, client_address, client_tls, upstream, $3 FROM idgate_audit.sessions WHERE id = $4`,
        [forged.id, forged.identity_oid, head, session.id],
      );
      await shared.query(
        `INSERT INTO idgate_audit.session_seals (session_id, log_id, seal_seq, ended_at_us, end_reason, bytes_from_client, bytes_to_client,
           statements, errors, event_count, last_event_hash, seal_hash, seal_signature) VALUES ($1, $2, $3, $4, $5, 0, 0, 0, 0, 0, $6, $7, $8)`,
        [forged.id, session.log_id, forgedSeq, seal.ended_at_us, seal.end_reason, head, sealHash(sealHead, seal), session.seal_signature],
      );
    } finally {
      await shared.end();
    }
    // node-b's own next session now ends at the seal position the forgery took.
    await sessionThrough(portB, 'SELECT 3 AS after_the_forgery');
    await sleep(1500);
    const verified = await idgate(['verify', '--db', ownerUrl, ...trusted()]);
    assert.equal(verified.code, 1, verified.stdout);
    assert.match(verified.stdout, /TAMPERED \(forged\) session forged-by-shared \(node node-b\): its seal is not signed by the node's key/);
    assert.match(
      nodeB.process.output(),
      new RegExp(`holds another row at this log's seal ${forgedSeq} \\(session forged-by-shared\\): not overwritten`),
    );
  });
});
