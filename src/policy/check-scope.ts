import type { Access } from './access.js';
import { covers, isReadOnly, tableKey, type Scope } from './scope.js';

export type ScopeDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const ALLOWED: ScopeDecision = { allowed: true };

/**
 * Judges what a statement needs against a scope. The first access the scope lacks decides, and
 * the reason names the operation, the table and the scope, so the agent's operator can act on it.
 */
export function checkScope(scope: Scope, accesses: readonly Access[]): ScopeDecision {
  if (scope.all) return ALLOWED;
  for (const a of accesses) {
    const reason = lacking(scope, a);
    if (reason !== undefined) return { allowed: false, reason: `${reason} is not allowed by scope "${scope.text}"` };
  }
  return ALLOWED;
}

function lacking(scope: Scope, a: Access): string | undefined {
  switch (a.kind) {
    case 'read':
      return covers(scope.read, a.table) ? undefined : `reading ${tableKey(a.table)}`;
    case 'write':
      return covers(scope.write, a.table) ? undefined : `writing ${tableKey(a.table)}`;
    case 'ddl':
      return scope.ddl ? undefined : `${a.what} (ddl)`;
    case 'search-path':
      return scope.read.kind === 'tables' || scope.write.kind === 'tables' ? 'changing search_path' : undefined;
    case 'read-write':
      return isReadOnly(scope) ? 'switching the read-only session to read-write' : undefined;
    case 'unchecked':
      return a.what;
  }
}
