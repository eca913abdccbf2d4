import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { SegmentBuilder } from '../../src/audit/event-segment.js';
import { journalPath, readJournal } from '../../src/audit/journal-record.js';
import { encodeJournalRecord } from '../../src/audit/journal-record-encoder.js';
import { NodeKey } from '../../src/signing/node-key.js';
import { freePort } from '../../src/dev/free-port.js';
import { idgate, startIdgate } from '../support/cli.js';
import { pgOptions } from '../support/client-options.js';
import { Harness } from '../support/harness.js';
import { sessionHeader } from '../support/session-header.js';

/**
 * Attacks on the evidence by someone who can write the gateway's files but does not hold the
 * node's key, against the gateway as an operator runs it (its own process, killed and restarted).
 */
describe('a signed audit log attacked through its files', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
    await h.cluster.sql('CREATE TABLE forgery_probe (id bigint PRIMARY KEY); GRANT ALL ON forgery_probe TO sync_writer', 'records');
  });
  after(async () => {
    await h.stop();
  });

  it('refuses a record forged into the write-ahead journal while the gateway was down, and says so', async () => {
    const port = await freePort();
    const db = join(h.workDirectory, 'forgery.db');
    const keyFile = join(h.workDirectory, 'node.pem');
    const made = await idgate(['keygen', '--out', keyFile, '--node', 'forgery-node']);
    assert.equal(made.code, 0, made.stderr);
    const publicKey = made.stdout.split('\n')[0] ?? '';
    const { file, env } = h.writeConfigFile((d) => {
      d['listen'] = { ...(d['listen'] as Record<string, unknown>), port };
      d['recordings'] = { path: db, 'signing-key-file': keyFile };
      d['node-id'] = 'forgery-node';
    });
    const serve = (): ReturnType<typeof startIdgate> => startIdgate(['serve', '--config', file], /gateway listening/, env);
    const gateway = await serve();
    const client = new pg.Client(pgOptions(h, await h.token(), { port }));
    client.on('error', () => undefined);
    await client.connect();
    await client.query('INSERT INTO forgery_probe (id) VALUES (1)');
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    await client.end().catch(() => undefined);

    // The attacker appends a record of a session that never was, framed as the journal frames them,
    // authenticated with a key of their own (they cannot read the node's).
    const journal = readJournal(readFileSync(journalPath(db)), NodeKey.fromPem(readFileSync(keyFile, 'utf8')));
    assert.ok(journal.logId !== undefined && journal.batches.length > 0, 'the dead gateway left its journal');
    const lastSeq = journal.batches[journal.batches.length - 1]?.journalSeq ?? 0;
    const segment = new SegmentBuilder();
    segment.append(Date.now() * 1000, 'client', 'Query', 0, 0, Buffer.from('DROP TABLE payroll\u0000'));
    const forged = { ...sessionHeader('forged-session'), identity: { objectId: 'oid-of-the-ceo', appId: 'a', tenantId: 't' } };
    appendFileSync(
      journalPath(db),
      encodeJournalRecord(
        lastSeq + 1,
        { starts: [forged], ends: [], logins: [] },
        [{ sessionId: 'forged-session', pending: segment }],
        NodeKey.generate().key.journalMac(journal.logId ?? ''),
      ),
    );

    const restarted = await serve();
    await new Promise((r) => setTimeout(r, 300));
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    assert.match(restarted.output(), /holds bytes this node did not write: refused, not applied/);
    assert.ok(
      readdirSync(h.workDirectory).some((f) => f.startsWith('forgery.db.write-ahead.refused-')),
      'the journal as found is kept for an operator',
    );

    const listed = await idgate(['sessions', '--json', '--db', db]);
    assert.equal(listed.code, 0, listed.stderr);
    const sessions = listed.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; endReason: string });
    assert.deepEqual(
      sessions.map((s) => s.endReason),
      ['gateway-lost'],
      'only the real session, sealed by the restart',
    );
    const verified = await idgate(['verify', '--db', db, '--trusted-key', `forgery-node=${publicKey}`]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /signed: by node forgery-node's key/);
  });
});
