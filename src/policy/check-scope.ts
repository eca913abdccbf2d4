import type { Access } from './access.js';
import { covers, isReadOnly, tableKey, type Scope, type WriteOperation } from '../config/scope.js';

/** A denial's class: `privilege` (outside the scope) or `unsupported` (a setting the analysis cannot follow). */
export type DenialKind = 'privilege' | 'unsupported';

/** Allowed; allowed once a person approves it (`approval` says what needs it); or not allowed. */
export type ScopeDecision =
  { readonly allowed: true; readonly approval?: string } | { readonly allowed: false; readonly reason: string; readonly kind: DenialKind };

const ALLOWED: ScopeDecision = { allowed: true };
const VERB: Readonly<Record<WriteOperation, string>> = { insert: 'inserting into', update: 'updating', delete: 'deleting from' };

/**
 * Judges what a statement needs against a scope. The first access the scope lacks decides, and
 * the reason names the operation, the table and the scope, so the agent's operator can act on it.
 * A statement the scope allows whose writes `approve:` names needs approval (the first such write
 * is named); one the scope does not allow is refused, approve or not.
 */
export function checkScope(scope: Scope, accesses: readonly Access[]): ScopeDecision {
  if (scope.all) return ALLOWED;
  let approval: string | undefined;
  for (const a of accesses) {
    if (a.kind === 'unsupported') {
      return { allowed: false, kind: 'unsupported', reason: `${a.what} is not supported under scope "${scope.text}"` };
    }
    const reason = lacking(scope, a);
    if (reason !== undefined) return { allowed: false, kind: 'privilege', reason: `${reason} is not allowed by scope "${scope.text}"` };
    approval ??= needingApproval(scope, a);
  }
  return approval === undefined ? ALLOWED : { allowed: true, approval };
}

/** The write an `approve:` grant holds back, named as a denial names it. */
function needingApproval(scope: Scope, a: Exclude<Access, { kind: 'unsupported' }>): string | undefined {
  if (a.kind === 'write') {
    // A write of unknown kind, or a MERGE, needs approval when any operation it may be does.
    const ops: readonly WriteOperation[] = a.op === undefined || a.op === 'merge' ? ['insert', 'update', 'delete'] : [a.op];
    const held = ops.find((op) => covers(scope.approve[op], a.table));
    return held === undefined ? undefined : `${a.op === undefined || a.op === 'merge' ? 'writing' : VERB[held]} ${tableKey(a.table)}`;
  }
  // TRUNCATE … CASCADE empties every table with a foreign key: held when deletes are.
  if (a.kind === 'write-every-table') return scope.approve.delete.kind === 'none' ? undefined : a.what;
  return undefined;
}

function lacking(scope: Scope, a: Exclude<Access, { kind: 'unsupported' }>): string | undefined {
  switch (a.kind) {
    case 'read':
      return covers(scope.read, a.table) ? undefined : `reading ${tableKey(a.table)}`;
    case 'write':
      return covers(scope.write, a.table) ? undefined : `writing ${tableKey(a.table)}`;
    case 'read-every-table':
      return scope.read.kind === 'any' ? undefined : `reading ${a.what} (it reveals every table's contents)`;
    case 'write-every-table':
      return scope.write.kind === 'any' ? undefined : `${a.what} (it also empties every table with a foreign key to it)`;
    case 'ddl':
      return scope.ddl ? undefined : `${a.what} (ddl)`;
    case 'search-path':
      return scope.read.kind === 'tables' || scope.write.kind === 'tables' ? 'changing search_path' : undefined;
    case 'read-write':
      return isReadOnly(scope) ? 'switching the read-only session to read-write' : undefined;
    case 'listen':
      return scope.read.kind === 'any' ||
        scope.listen.kind === 'any' ||
        (scope.listen.kind === 'names' && scope.listen.names.has(a.channel))
        ? undefined
        : `LISTEN ${a.channel}`;
    case 'notify':
      return scope.write.kind === 'any' ||
        scope.notify.kind === 'any' ||
        (scope.notify.kind === 'names' && scope.notify.names.has(a.channel))
        ? undefined
        : `NOTIFY ${a.channel}`;
    case 'unchecked':
      return a.what;
  }
}
