import { parentPort, workerData } from 'node:worker_threads';
import { batchSize, type WriterBatch } from './audit-event.js';
import { AuditStore } from './audit-store.js';
import type { WriterReport } from './writer-messages.js';

/**
 * The audit writer thread: the only code that writes the audit database, so the relay never
 * waits on SQLite. Batches arrive in order and are applied whole, each in one transaction; a batch
 * that cannot be written stays first in line and is retried until the database recovers.
 */
const RETRY_MS = 250;
const { path, nodeId } = workerData as { path: string; nodeId: string | null };
const port = parentPort;
if (port === null) throw new Error('the audit writer must run in a worker thread');

const backlog: WriterBatch[] = [];
let store: AuditStore | undefined;
let failing = false;
let retryTimer: NodeJS.Timeout | undefined;
let orphaned = 0;
let lost = 0;

function report(r: WriterReport): void {
  port?.postMessage(r);
}

function drain(): void {
  while (backlog.length > 0) {
    const batch = backlog[0];
    if (batch === undefined) return;
    try {
      store ??= new AuditStore(path, nodeId);
      store.checkFile();
      store.apply(batch);
    } catch (e) {
      fail(e);
      return;
    }
    backlog.shift();
    report({ type: 'ack', commands: batchSize(batch) });
    if (failing) {
      failing = false;
      report({ type: 'recovered' });
    }
    if (store.lostSessions !== lost) {
      report({ type: 'lost', sessions: store.lostSessions - lost });
      lost = store.lostSessions;
    }
    if (store.orphanedEvents !== orphaned) {
      report({ type: 'orphaned', events: store.orphanedEvents - orphaned });
      orphaned = store.orphanedEvents;
    }
  }
}

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  if (/removed or replaced/.test(message) || /SQLITE_READONLY_DBMOVED|disk I\/O/.test(message)) {
    // Reopen at the path on the next try (a new database if the file is gone).
    try {
      store?.close();
    } catch {
      // already unusable
    }
    store = undefined;
  }
  if (!failing) {
    failing = true;
    report({ type: 'failed', message });
  }
  retryTimer ??= setTimeout(() => {
    retryTimer = undefined;
    drain();
  }, RETRY_MS);
}

port.on('message', (batch: WriterBatch) => {
  backlog.push(batch);
  if (!failing) drain();
});

try {
  store = new AuditStore(path, nodeId);
  report({ type: 'ready' });
} catch (e) {
  report({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
