import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { AuditStore } from './audit-store.js';
import { readJournal } from './journal-record.js';

/** What start-up found in the write-ahead journal a previous process left. */
export interface JournalRecovery {
  /** Records the database did not hold yet, now applied. */
  readonly records: number;
  readonly events: number;
  /** Bytes of a record the dead process was still appending (never durable, never acknowledged). */
  readonly tornBytes: number;
  /** A journal of another database (its header names another log), moved aside here unread. */
  readonly setAside?: string;
}

/**
 * Applies to the database, in order, the journal records it does not hold yet (those after its
 * applied position): what a process recorded, made durable and perhaps forwarded, before it died.
 * Runs on the writer thread, once, while the gateway holds the writer lock and before any new
 * session is recorded.
 */
export function recoverJournal(path: string, store: AuditStore): JournalRecovery {
  if (!existsSync(path)) return { records: 0, events: 0, tornBytes: 0 };
  const file = readFileSync(path);
  if (file.length === 0) return { records: 0, events: 0, tornBytes: 0 };
  const journal = readJournal(file);
  const { logId, appliedSeq } = store.journalPosition;
  if (journal.logId !== logId) {
    // Not this database's journal (the database was deleted or restored from a backup): kept for an operator, never applied.
    const aside = `${path}.set-aside-${Date.now()}`;
    renameSync(path, aside);
    return { records: 0, events: 0, tornBytes: 0, setAside: aside };
  }
  let records = 0;
  let events = 0;
  for (const batch of journal.batches) {
    if ((batch.journalSeq ?? 0) <= appliedSeq) continue;
    store.apply(batch);
    records += 1;
    for (const segment of batch.events) events += segment.count;
  }
  store.forgetRecoveredSessions();
  return { records, events, tornBytes: journal.tornBytes };
}
