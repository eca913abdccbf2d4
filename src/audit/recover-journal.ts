import { copyFileSync, existsSync, readFileSync, renameSync } from 'node:fs';
import type { AuditStore } from './audit-store.js';
import { readJournal } from './journal-record.js';
import type { NodeKey } from '../signing/node-key.js';

/** What start-up found in the write-ahead journal a previous process left. */
export interface JournalRecovery {
  /** Records the database did not hold yet, now applied. */
  readonly records: number;
  readonly events: number;
  /** Bytes of a record the dead process was still appending (never durable, never acknowledged). */
  readonly tornBytes: number;
  /** A journal of another database (its header names another log), moved aside here unread. */
  readonly setAside?: string;
  /** Bytes this node's key did not write (forged, spliced or reordered), never applied; a copy of the journal is kept here. */
  readonly refused?: { readonly bytes: number; readonly reason: string; readonly keptAt: string };
}

/**
 * Applies to the database, in order, the journal records it does not hold yet (those after its
 * applied position): what a process recorded, made durable and perhaps forwarded, before it died.
 * Runs on the writer thread, once, while the gateway holds the writer lock and before any new
 * session is recorded.
 */
export function recoverJournal(path: string, store: AuditStore, key?: NodeKey): JournalRecovery {
  if (!existsSync(path)) return { records: 0, events: 0, tornBytes: 0 };
  const file = readFileSync(path);
  if (file.length === 0) return { records: 0, events: 0, tornBytes: 0 };
  const journal = readJournal(file, key);
  const { logId, appliedSeq } = store.journalPosition;
  if (journal.logId !== logId) {
    // Not this database's journal (the database was deleted or restored from a backup): kept for an operator, never applied.
    const aside = `${path}.set-aside-${Date.now()}`;
    renameSync(path, aside);
    return { records: 0, events: 0, tornBytes: 0, setAside: aside };
  }
  let records = 0;
  let events = 0;
  let refused = journal.refused;
  for (const batch of journal.batches) {
    const seq = batch.journalSeq ?? 0;
    if (seq <= appliedSeq) continue;
    // Records are appended in order and cut away only once applied: one missing after the applied position was removed.
    if (key !== undefined && records === 0 && seq !== appliedSeq + 1) {
      refused = `records ${appliedSeq + 1}–${seq - 1} after the database's applied position are missing`;
      break;
    }
    store.apply(batch);
    records += 1;
    for (const segment of batch.events) events += segment.count;
  }
  store.forgetRecoveredSessions();
  if (refused === undefined) return { records, events, tornBytes: journal.tornBytes };
  // Evidence of tampering: the journal is kept as found for an operator; what was authentic is applied.
  const keptAt = `${path}.refused-${Date.now()}`;
  copyFileSync(path, keptAt);
  return { records, events, tornBytes: 0, refused: { bytes: journal.tornBytes, reason: refused, keptAt } };
}
