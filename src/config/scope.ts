import { IdgateError } from '../idgate-error.js';

/**
 * The scope language of identity-map entries: a space-separated list of grants
 * `action[:target[,target…]]`, where action is read, write, ddl, listen, notify or all. A target of
 * read or write is a table (`records`, `sales.orders`, `"Mixed Case"`; an unqualified table is in
 * the connection's schema), of listen or notify a notification channel. `approve:write[:tables]`
 * marks writes the scope allows as needing a person's approval first (it never widens a scope).
 */

export interface TableName {
  readonly schema: string;
  readonly table: string;
}

/** Which tables an action covers: every table, or only these (keyed `schema.table`). */
export type TableGrant =
  { readonly kind: 'any' } | { readonly kind: 'tables'; readonly tables: ReadonlySet<string> } | { readonly kind: 'none' };

/** Which notification channels a grant covers. */
export type ChannelGrant =
  { readonly kind: 'any' } | { readonly kind: 'names'; readonly names: ReadonlySet<string> } | { readonly kind: 'none' };

export interface Scope {
  /** The scope as written. */
  readonly text: string;
  /** `all`: everything, nothing parsed. */
  readonly all: boolean;
  readonly read: TableGrant;
  readonly write: TableGrant;
  readonly ddl: boolean;
  /** LISTEN (also granted by read on every table). */
  readonly listen: ChannelGrant;
  /** NOTIFY and pg_notify (also granted by write on every table). */
  readonly notify: ChannelGrant;
  /**
   * Writes that run only once a person approved the exact statement, per operation:
   * `approve:write[:tables]` holds all three, `approve:delete,update:records` those two on records.
   */
  readonly approve: ApprovalGrants;
}

/** The operations a write can be, as `approve:` names them (MERGE is each it may do; COPY FROM inserts; TRUNCATE deletes). */
export type WriteOperation = 'insert' | 'update' | 'delete';

export type ApprovalGrants = Readonly<Record<WriteOperation, TableGrant>>;

const OPERATIONS: readonly WriteOperation[] = ['insert', 'update', 'delete'];

export class ScopeError extends IdgateError {
  override readonly name = 'ScopeError';
  override readonly code = 'scope-invalid';
}

const NONE: TableGrant = { kind: 'none' };
const ANY: TableGrant = { kind: 'any' };

export function tableKey(t: TableName): string {
  return `${t.schema}.${t.table}`;
}

/** Parses a scope; `defaultSchema` qualifies unqualified targets. Throws ScopeError saying what is wrong. */
export function parseScope(text: string, defaultSchema = 'public'): Scope {
  const grants = splitOutsideQuotes(text.trim(), (ch) => /\s/.test(ch)).filter((g) => g !== '');
  if (grants.length === 0) throw new ScopeError('a scope needs at least one grant (read, write, ddl or all)');
  let all = false;
  let ddl = false;
  let read: TableGrant = NONE;
  let write: TableGrant = NONE;
  let listen: ChannelGrant = NO_CHANNEL;
  let notify: ChannelGrant = NO_CHANNEL;
  const approve: Record<WriteOperation, TableGrant> = { insert: NONE, update: NONE, delete: NONE };
  for (const grant of grants) {
    const colon = grant.indexOf(':');
    const action = colon === -1 ? grant : grant.slice(0, colon);
    const targets =
      colon === -1 || action === 'listen' || action === 'notify' || action === 'approve'
        ? undefined
        : parseTargets(grant.slice(colon + 1), defaultSchema, grant);
    switch (action) {
      case 'all':
      case 'ddl':
        if (targets !== undefined) throw new ScopeError(`"${grant}": ${action} takes no tables`);
        if (action === 'all') all = true;
        else ddl = true;
        break;
      case 'read':
        read = merge(read, targets);
        break;
      case 'write':
        write = merge(write, targets);
        break;
      case 'listen':
      case 'notify': {
        const channels = colon === -1 ? undefined : parseChannels(grant.slice(colon + 1), grant);
        if (action === 'listen') listen = mergeChannels(listen, channels);
        else notify = mergeChannels(notify, channels);
        break;
      }
      case 'approve':
        approvedWrites(approve, grant, colon, defaultSchema);
        break;
      default:
        throw new ScopeError(`"${grant}": unknown action "${action}" (read, write, ddl, listen, notify, approve or all)`);
    }
  }
  if (all && OPERATIONS.some((op) => approve[op].kind !== 'none')) {
    throw new ScopeError('approve needs a parsed scope: "all" is not analysed, so nothing could be held for approval');
  }
  return { text, all, read, write, ddl, listen, notify, approve };
}

/** `approve:ops[:tables]`, ops among write, insert, update, delete (write: all three); no tables: every table. */
function approvedWrites(approve: Record<WriteOperation, TableGrant>, grant: string, colon: number, defaultSchema: string): void {
  const what = colon === -1 ? '' : grant.slice(colon + 1);
  const inner = what.indexOf(':');
  const ops = (inner === -1 ? what : what.slice(0, inner)).split(',');
  const tables = inner === -1 ? undefined : parseTargets(what.slice(inner + 1), defaultSchema, grant);
  for (const op of ops) {
    if (op !== 'write' && !OPERATIONS.includes(op as WriteOperation)) {
      throw new ScopeError(`"${grant}": approve takes write, insert, update or delete (approve:delete,update:records)`);
    }
    for (const each of op === 'write' ? OPERATIONS : [op as WriteOperation]) approve[each] = merge(approve[each], tables);
  }
}

const NO_CHANNEL: ChannelGrant = { kind: 'none' };
const ANY_CHANNEL: ChannelGrant = { kind: 'any' };

function mergeChannels(current: ChannelGrant, channels: string[] | undefined): ChannelGrant {
  if (channels === undefined || current.kind === 'any') return ANY_CHANNEL;
  return { kind: 'names', names: new Set([...(current.kind === 'names' ? current.names : []), ...channels]) };
}

/** Channel names are identifiers: folded to lower case unless quoted, as LISTEN folds them. */
function parseChannels(list: string, grant: string): string[] {
  if (list === '') throw new ScopeError(`"${grant}": no channel after ":"`);
  return splitOutsideQuotes(list, (ch) => ch === ',').map((name) => {
    const parts = splitQualified(name);
    if (parts === undefined || parts.length !== 1 || parts[0] === '') throw new ScopeError(`"${grant}": "${name}" is not a channel name`);
    return parts[0] ?? '';
  });
}

function merge(current: TableGrant, targets: TableName[] | undefined): TableGrant {
  if (targets === undefined || current.kind === 'any') return ANY;
  const tables = new Set(current.kind === 'tables' ? current.tables : []);
  for (const t of targets) tables.add(tableKey(t));
  return { kind: 'tables', tables };
}

function parseTargets(list: string, defaultSchema: string, grant: string): TableName[] {
  if (list === '') throw new ScopeError(`"${grant}": no table after ":"`);
  return splitOutsideQuotes(list, (ch) => ch === ',').map((name) => {
    const parts = splitQualified(name);
    if (parts === undefined || parts.length > 2 || parts.some((p) => p === '')) {
      throw new ScopeError(`"${grant}": "${name}" is not a table name`);
    }
    return parts.length === 2 ? { schema: parts[0] ?? '', table: parts[1] ?? '' } : { schema: defaultSchema, table: parts[0] ?? '' };
  });
}

/** Splits where `isSeparator` says, except inside double quotes (quoted names may hold spaces and commas). */
function splitOutsideQuotes(text: string, isSeparator: (ch: string) => boolean): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && isSeparator(ch)) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Splits `schema.table` into identifiers, folding unquoted ones to lower case as Postgres does. */
function splitQualified(name: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i <= name.length) {
    if (name[i] === '"') {
      const end = name.indexOf('"', i + 1);
      if (end === -1) return undefined;
      parts.push(name.slice(i + 1, end));
      i = end + 1;
    } else {
      const dot = name.indexOf('.', i);
      const raw = name.slice(i, dot === -1 ? name.length : dot);
      // As Postgres's lexer: letters beyond ASCII may start and continue a name; only A–Z fold to lower case.
      if (!/^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$/.test(raw)) return undefined;
      parts.push(raw.replace(/[A-Z]/g, (c) => c.toLowerCase()));
      i = dot === -1 ? name.length : dot;
    }
    if (i >= name.length) break;
    if (name[i] !== '.') return undefined;
    i += 1;
  }
  return parts;
}

/** Whether a grant covers a table. */
export function covers(grant: TableGrant, table: TableName): boolean {
  if (grant.kind === 'any') return true;
  return grant.kind === 'tables' && grant.tables.has(tableKey(table));
}

/** True when the scope cannot write anything: its session may run read-only upstream. */
export function isReadOnly(scope: Scope): boolean {
  return !scope.all && !scope.ddl && scope.write.kind === 'none';
}
