import type { TableName } from './scope.js';

/** What a statement needs, as a protocol's analysis finds it and the scope check judges it. */
export type Access =
  | { readonly kind: 'read'; readonly table: TableName }
  | { readonly kind: 'write'; readonly table: TableName }
  | { readonly kind: 'ddl'; readonly what: string }
  /** Changes the search path (denied when the scope names tables). */
  | { readonly kind: 'search-path' }
  /** Switches read-only off (denied on a read-only session). */
  | { readonly kind: 'read-write' }
  /** Cannot be checked against a scope: denied unless the scope is `all`. */
  | { readonly kind: 'unchecked'; readonly what: string };
