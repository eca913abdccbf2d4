import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { batchSize, type WriterBatch } from './audit-event.js';
import { AuditStore, type ChainHeads, type JournalPosition, type Predecessor } from './audit-store.js';
import { journalLogId, journalPath } from './journal-record.js';
import { readReplacementNote, replacementNotePath } from './replacement-note.js';
import { recoverJournal } from './recover-journal.js';
import type { WriterSettings } from './start-writer-worker.js';
import type { WriterReport, WriterRequest } from './writer-messages.js';
import { InvariantError } from '../idgate-error.js';
import { AuditError } from './audit-error.js';
import { NodeKey } from '../signing/node-key.js';

/**
 * The audit writer thread: the only code that writes the audit database, so the relay never
 * waits on SQLite. Batches arrive in order and are applied whole, each in one transaction; a batch
 * that cannot be written stays first in line and is retried until the database recovers.
 */
const RETRY_MS = 250;
const { path, nodeId, onReplaced, sync, ship, signingKeyPem, central } = workerData as WriterSettings;
const key = signingKeyPem === undefined ? undefined : NodeKey.fromPem(signingKeyPem);
const signing = key === undefined ? {} : { key };
const port = parentPort;
if (port === null) throw new InvariantError('the audit writer must run in a worker thread');

const backlog: WriterBatch[] = [];
let store: AuditStore | undefined;
let failing = false;
let lastFailure = '';
let retryTimer: NodeJS.Timeout | undefined;
let orphaned = 0;
/** The heads of the database that was removed or replaced under us: a new one must say it continues them. */
let replacedHeads: ChainHeads | undefined;
let replacedJournal: JournalPosition | undefined;
let lost = 0;

function report(r: WriterReport): void {
  port?.postMessage(r);
}

function drain(): void {
  while (backlog.length > 0) {
    const batch = backlog[0];
    if (batch === undefined) return;
    try {
      store ??= reopen();
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
    // Reopen at the path on the next try; what is there decides (reopen()).
    if (store !== undefined && /removed or replaced|DBMOVED/.test(message)) {
      replacedHeads = store.heads;
      replacedJournal = store.journalPosition;
      if (onReplaced === 'wait') leaveReplacementNote({ logId: replacedJournal.logId, heads: replacedHeads, noticedBy: 'running-process' });
    }
    try {
      store?.close();
    } catch {
      // already unusable
    }
    store = undefined;
  }
  // Said again when the reason changes (a removal, then the wait for an operator), not on every retry.
  if (!failing || message !== lastFailure) {
    failing = true;
    lastFailure = message;
    report({ type: 'failed', message });
  }
  retryTimer ??= setTimeout(() => {
    retryTimer = undefined;
    drain();
  }, RETRY_MS);
}

/**
 * Opens the database at the path again after a failure. The same file is simply reopened. If the
 * one we wrote was removed or replaced, history must not restart silently: with
 * `recordings.on-replaced: wait` (the default) recording stays failed until an operator restarts
 * the gateway; with `resume`, a new database is begun at once, its origin naming the chain heads it
 * continues — but never over another file someone put at the path.
 */
function reopen(): AuditStore {
  if (replacedHeads === undefined) return new AuditStore(path, { nodeId, sync, ship, ...signing });
  if (onReplaced === 'wait') {
    throw new AuditError(
      'audit-replaced',
      'the audit database was removed or replaced; recording waits for an operator (recordings.on-replaced: wait): restart the gateway to begin a new log',
    );
  }
  if (existsSync(path)) {
    throw new AuditError(
      'audit-replaced',
      'the audit database was replaced by another file; recording waits for an operator: a new log is begun only where there is none',
    );
  }
  // A write-ahead log left by the removed database must not be replayed into the new one.
  for (const suffix of ['-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  const reopened = new AuditStore(path, {
    nodeId,
    sync,
    ship,
    ...signing,
    replaces: { logId: replacedJournal?.logId, heads: replacedHeads, noticedBy: 'running-process' },
    ...(replacedJournal !== undefined ? { continuesJournal: replacedJournal } : {}),
  });
  replacedHeads = undefined;
  replacedJournal = undefined;
  return reopened;
}

port.on('message', (request: WriterRequest) => {
  if ('recoverJournal' in request) {
    recover(request.recoverJournal);
    return;
  }
  if ('heads' in request) {
    report({ type: 'heads', logId: store?.journalPosition.logId, heads: store?.heads });
    return;
  }
  backlog.push(request);
  if (!failing) drain();
});

/** Applies what a dead process's journal holds beyond the database; a failure here keeps the gateway from starting. */
function recover(journal: string): void {
  try {
    store ??= reopen();
    const recovery = recoverJournal(journal, store, key);
    report({ type: 'journal-recovered', position: store.journalPosition, recovery });
  } catch (e) {
    report({ type: 'failed', message: `cannot recover the write-ahead journal: ${e instanceof Error ? e.message : String(e)}` });
  }
}

/**
 * The database went under this process and recording waits for an operator's restart: a note
 * beside the path names the log and its heads, so the database the restart begins says what it
 * replaces even when the journal went with the database (`rm audit.db*`).
 */
function leaveReplacementNote(predecessor: Predecessor): void {
  try {
    writeFileSync(replacementNotePath(path), JSON.stringify(predecessor), { mode: 0o600 });
  } catch {
    // The directory itself is gone: the central store, if any, still knows.
  }
}

/**
 * At start-up, before the database is opened: when there is none at the path, was there one? The
 * central store's newest log of this node (its heads, looked up by the main thread) or the
 * journal left beside the path says so; the new database's origin then names it, so a log
 * removed while the gateway was down never restarts as a fresh install.
 */
function predecessorAtStart(): Predecessor | undefined {
  if (existsSync(path)) return undefined;
  const noted = readReplacementNote(path);
  if (noted !== undefined) return noted;
  if (central !== undefined) return central;
  const logId = journalLogId(journalPath(path));
  return logId === undefined ? undefined : { logId, heads: undefined, noticedBy: 'journal' };
}

try {
  const replaces = predecessorAtStart();
  store = new AuditStore(path, { nodeId, sync, ship, ...signing, ...(replaces !== undefined ? { replaces } : {}) });
  // The new database's origin holds what the note said; the note has done its work.
  rmSync(replacementNotePath(path), { force: true });
  report({ type: 'ready' });
} catch (e) {
  report({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
