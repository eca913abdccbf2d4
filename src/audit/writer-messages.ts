import type { WriterBatch } from './audit-event.js';
import type { ChainHeads, JournalPosition } from './audit-store.js';
import type { JournalRecovery } from './recover-journal.js';

/** What the main thread asks of the writer thread: a batch to apply, or (once, holding the lock) recovery of the journal. */
export type WriterRequest = WriterBatch | { readonly recoverJournal: string } | { readonly heads: true };

/** What the writer thread tells the main thread. */
export type WriterReport =
  | { readonly type: 'ready' }
  | { readonly type: 'ack'; readonly commands: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'recovered' }
  | { readonly type: 'orphaned'; readonly events: number }
  | { readonly type: 'lost'; readonly sessions: number }
  | { readonly type: 'journal-recovered'; readonly position: JournalPosition; readonly recovery: JournalRecovery }
  /** Where the chains stand in what is committed (undefined while the database cannot be written). */
  | { readonly type: 'heads'; readonly logId: string | undefined; readonly heads: ChainHeads | undefined };
