import type { WriterBatch } from './audit-event.js';
import type { JournalPosition } from './audit-store.js';
import type { JournalRecovery } from './recover-journal.js';

/** What the main thread asks of the writer thread: a batch to apply, or (once, holding the lock) recovery of the journal. */
export type WriterRequest = WriterBatch | { readonly recoverJournal: string };

/** What the writer thread tells the main thread. */
export type WriterReport =
  | { readonly type: 'ready' }
  | { readonly type: 'ack'; readonly commands: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'recovered' }
  | { readonly type: 'orphaned'; readonly events: number }
  | { readonly type: 'lost'; readonly sessions: number }
  | { readonly type: 'journal-recovered'; readonly position: JournalPosition; readonly recovery: JournalRecovery };
