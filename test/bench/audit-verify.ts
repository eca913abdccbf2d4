/**
 * `idgate verify` on a log of IDGATE_BENCH_VERIFY_EVENTS events (default 1,000,000) in
 * IDGATE_BENCH_VERIFY_SESSIONS sessions (default 10,000), each with its login attempt and its
 * seal: signed with a node key and unsigned, side by side, and what signing costs the writer
 * (the same log written with and without a key). Part of `npm run bench`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { WriterBatch } from '../../src/audit/audit-event.js';
import { AuditStore } from '../../src/audit/audit-store.js';
import { SegmentBuilder } from '../../src/audit/event-segment.js';
import { NodeKey } from '../../src/signing/node-key.js';
import { TrustList } from '../../src/audit/trust-list.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { sessionHeader } from '../support/session-header.js';

const EVENTS = Number(process.env['IDGATE_BENCH_VERIFY_EVENTS'] ?? 1_000_000);
const SESSIONS = Number(process.env['IDGATE_BENCH_VERIFY_SESSIONS'] ?? 10_000);
/** Sessions written per batch, as the writer thread would see them: a fleet's worth ending at once. */
const PER_BATCH = 100;
const QUERY = Buffer.from('SELECT abalance FROM pgbench_accounts WHERE aid = 42\u0000');
const OUTCOME = Buffer.from('SELECT 1\u0000');

/** Writes the log; returns the seconds spent in store.apply. */
function write(path: string, key: NodeKey | undefined): number {
  const store = new AuditStore(path, { nodeId: 'bench-node', ...(key !== undefined ? { key } : {}) });
  const perSession = Math.max(2, Math.floor(EVENTS / SESSIONS));
  let seconds = 0;
  for (let first = 0; first < SESSIONS; first += PER_BATCH) {
    const ids = Array.from({ length: Math.min(PER_BATCH, SESSIONS - first) }, (_, i) => `s${first + i}`);
    const now = Date.now() * 1000;
    const batch: WriterBatch = {
      starts: ids.map((id) => ({ ...sessionHeader(id), startedAtUs: now })),
      events: ids.map((sessionId) => {
        const builder = new SegmentBuilder();
        for (let e = 0; e < perSession; e++) {
          builder.append(
            now + e,
            e % 2 === 0 ? 'client' : 'server',
            e % 2 === 0 ? 'Query' : 'CommandComplete',
            e % 2,
            0,
            e % 2 === 0 ? QUERY : OUTCOME,
          );
        }
        return { sessionId, ...builder.take() };
      }),
      ends: ids.map((sessionId) => ({
        sessionId,
        end: { endedAtUs: now + perSession, reason: 'client-terminated' as const, bytesFromClient: 1, bytesToClient: 1 },
      })),
      logins: ids.map((sessionId) => ({
        atUs: now,
        accepted: true,
        reason: 'accepted' as const,
        message: 'ok',
        sessionId,
        clientAddress: '127.0.0.1',
      })),
    };
    const started = process.hrtime.bigint();
    store.apply(batch);
    seconds += Number(process.hrtime.bigint() - started) / 1e9;
  }
  store.close();
  return seconds;
}

function verify(path: string, trust: TrustList): { seconds: number; events: number; findings: number } {
  const db = new Database(path, { readonly: true });
  const started = process.hrtime.bigint();
  const report = verifyAudit(db, trust);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return { seconds, events: report.events, findings: report.findings.length };
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-verify-bench-'));
  try {
    const { key } = NodeKey.generate();
    const signedPath = join(dir, 'signed.db');
    const plainPath = join(dir, 'plain.db');
    const writeSigned = write(signedPath, key);
    const writePlain = write(plainPath, undefined);
    const trust = new TrustList(new Map([['bench-node', [key.publicKey]]]));
    const signed = verify(signedPath, trust);
    const plain = verify(plainPath, new TrustList());
    const seals = SESSIONS * 2; // a seal and a login attempt per session
    process.stdout.write(
      `verify, ${signed.events.toLocaleString('en')} events in ${SESSIONS.toLocaleString('en')} sessions: signed ${signed.seconds.toFixed(2)} s, unsigned ${plain.seconds.toFixed(2)} s (findings ${signed.findings}/${plain.findings})\n` +
        `writing that log: signed ${writeSigned.toFixed(2)} s, unsigned ${writePlain.toFixed(2)} s (${(((writeSigned - writePlain) / seals) * 1e6).toFixed(1)} µs per signed seal or login attempt)\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
