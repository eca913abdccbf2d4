import type { WriteOperation } from '../config/scope.js';
import type { TableName } from '../config/scope.js';

/** What a statement needs, as a protocol's analysis finds it and the scope check judges it. */
export type Access =
  | { readonly kind: 'read'; readonly table: TableName }
  /** `op`: what the write does to rows (approve: grants name it); COPY FROM inserts, TRUNCATE deletes, MERGE may do all three. */
  | { readonly kind: 'write'; readonly table: TableName; readonly op?: WriteOperation | 'merge' }
  /** Reads what every table holds (a statistics catalog): needs read on every table. */
  | { readonly kind: 'read-every-table'; readonly what: string }
  /** Writes tables the statement does not name (TRUNCATE … CASCADE): needs write on every table. */
  | { readonly kind: 'write-every-table'; readonly what: string }
  | { readonly kind: 'ddl'; readonly what: string }
  /** Changes the search path (denied when the scope names tables). */
  | { readonly kind: 'search-path' }
  /** Switches read-only off (denied on a read-only session). */
  | { readonly kind: 'read-write' }
  /** Receives a notification channel's messages (LISTEN). */
  | { readonly kind: 'listen'; readonly channel: string }
  /** Sends on a notification channel (NOTIFY, pg_notify). */
  | { readonly kind: 'notify'; readonly channel: string }
  /** Cannot be checked against a scope: denied unless the scope is `all`. */
  | { readonly kind: 'unchecked'; readonly what: string }
  /** Would change how the server reads statement text (a lexical setting): refused unless the scope is `all`. */
  | { readonly kind: 'unsupported'; readonly what: string };
