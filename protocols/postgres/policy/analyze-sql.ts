import { loadModule, parseSync } from 'libpg-query';
import type { TableName } from '../../../src/policy/scope.js';
import type { Access } from '../../../src/policy/access.js';
import { isAllowedFunction, isDeniedFunction } from './functions.js';

type Node = Record<string, unknown>;

/** Loads the Postgres parser (WebAssembly): once, before the first analysis. */
export async function loadSqlParser(): Promise<void> {
  await loadModule();
}

export class SqlSyntaxError extends Error {
  override readonly name = 'SqlSyntaxError';
  readonly code = 'sql-syntax';
}

const CATALOG_SCHEMAS = new Set(['pg_catalog', 'information_schema']);
const DDL = new Set([
  'CreateStmt', 'AlterTableStmt', 'DropStmt', 'CommentStmt', 'IndexStmt', 'ViewStmt', 'CreateSeqStmt', 'AlterSeqStmt', 'RenameStmt',
  'CreateSchemaStmt', 'CreateFunctionStmt', 'AlterFunctionStmt', 'CreateTrigStmt', 'CreateDomainStmt', 'CreateEnumStmt', 'CompositeTypeStmt',
  'AlterEnumStmt', 'CreateExtensionStmt', 'AlterObjectSchemaStmt', 'AlterOwnerStmt', 'RuleStmt', 'CreateStatsStmt', 'CreateTableSpaceStmt',
  'ReindexStmt', 'RefreshMatViewStmt', 'CreatePolicyStmt', 'AlterPolicyStmt', 'DefineStmt', 'ClusterStmt',
]);
/** Housekeeping that touches no table and changes no right. */
const HOUSEKEEPING = new Set([
  'TransactionStmt', 'VariableShowStmt', 'DiscardStmt', 'DeallocateStmt', 'ListenStmt', 'UnlistenStmt', 'NotifyStmt', 'ClosePortalStmt',
  'FetchStmt', 'CheckPointStmt', 'LoadStmt', 'ExecuteStmt', 'VacuumStmt',
]);
/** Settings that decide who the session is or what it may do. */
const PRIVILEGED_SETTINGS = new Set(['role', 'session_authorization']);
const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);

/**
 * Everything the statements in `sql` need, found by the real Postgres parser and a walk of the
 * whole tree: every statement of a multi-statement string, CTEs (data-modifying ones included),
 * subqueries, SELECT INTO, CREATE TABLE AS, EXPLAIN ANALYZE, PREPARE, COPY, MERGE, INSERT … SELECT.
 * Unqualified tables are taken to be in `schema`. Anything the walk does not understand is
 * `unchecked`, which only the `all` scope admits.
 */
export function analyzeSql(sql: string, schema = 'public'): Access[] {
  return analyzeSqlDetailed(sql, schema).accesses;
}

/** Did the verdict depend on a constant's value (SET …= off, set_config('role', …))? Then it holds for this text only. */
let constantsConsulted = false;

export function analyzeSqlDetailed(sql: string, schema = 'public'): { accesses: Access[]; dependsOnConstants: boolean } {
  constantsConsulted = false;
  let tree: { stmts?: { stmt?: Node }[] };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch (e) {
    throw new SqlSyntaxError(e instanceof Error ? e.message : String(e));
  }
  const out: Access[] = [];
  for (const raw of tree.stmts ?? []) {
    if (raw.stmt !== undefined) statement(raw.stmt, new Walk(schema, out));
  }
  return { accesses: out, dependsOnConstants: constantsConsulted };
}

class Walk {
  readonly ctes: Set<string>[] = [];
  constructor(
    readonly schema: string,
    readonly out: Access[],
  ) {}

  table(rangeVar: Node): TableName | undefined {
    const name = String(rangeVar['relname'] ?? '');
    const schemaName = rangeVar['schemaname'] === undefined ? undefined : String(rangeVar['schemaname']);
    if (schemaName === undefined && this.ctes.some((names) => names.has(name))) return undefined;
    if (schemaName !== undefined && CATALOG_SCHEMAS.has(schemaName)) return undefined;
    // Unqualified pg_* names resolve to pg_catalog first, as Postgres's search path does.
    if (schemaName === undefined && name.startsWith('pg_')) return undefined;
    return { schema: schemaName ?? this.schema, table: name };
  }
}

function statement(wrapped: Node, w: Walk): void {
  const [type, node] = only(wrapped);
  if (node === undefined) return;
  switch (type) {
    case 'SelectStmt':
      return walk(wrapped, w);
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return writeStatement(node, w);
    case 'CopyStmt':
      return copy(node, w);
    case 'TruncateStmt':
      for (const r of (node['relations'] as Node[] | undefined) ?? []) writeTo(r, w);
      return;
    case 'ExplainStmt':
      return explain(node, w);
    case 'CreateTableAsStmt':
      w.out.push({ kind: 'ddl', what: 'CREATE TABLE AS' });
      return walk(node['query'], w);
    case 'PrepareStmt':
      return statement(node['query'] as Node, w);
    case 'DeclareCursorStmt':
      return statement(node['query'] as Node, w);
    case 'VariableSetStmt':
      return setting(node, w);
    case 'LockStmt':
      for (const r of (node['relations'] as Node[] | undefined) ?? []) readFrom(r, w);
      return;
    default:
      if (DDL.has(type)) {
        w.out.push({ kind: 'ddl', what: type.replace(/Stmt$/, '') });
        return walk(node, w);
      }
      if (HOUSEKEEPING.has(type)) return transactionMode(node, w);
      w.out.push({ kind: 'unchecked', what: type.replace(/Stmt$/, '') });
  }
}

/** INSERT/UPDATE/DELETE/MERGE: the target is written (reading it there is part of writing it); every other table is read. */
function writeStatement(node: Node, w: Walk): void {
  const relation = node['relation'] as Node | undefined;
  const target = relation && w.table(unwrap(relation));
  if (target) w.out.push({ kind: 'write', table: target });
  withCtes(node, w, () => {
    for (const [key, value] of Object.entries(node)) if (key !== 'relation' && key !== 'withClause') walk(value, w);
  });
}

function copy(node: Node, w: Walk): void {
  if (node['is_program'] === true || node['filename'] !== undefined) {
    w.out.push({ kind: 'unchecked', what: node['is_program'] === true ? 'COPY to or from a program' : 'COPY to or from a server file' });
    return;
  }
  const relation = node['relation'] as Node | undefined;
  if (relation !== undefined) {
    if (node['is_from'] === true) writeTo({ RangeVar: relation }, w);
    else readFrom({ RangeVar: relation }, w);
  }
  if (node['query'] !== undefined) statement(node['query'] as Node, w);
}

function explain(node: Node, w: Walk): void {
  const options = (node['options'] as Node[] | undefined) ?? [];
  const analyze = options.some((o) => {
    const def = unwrap(o);
    return def['defname'] === 'analyze' && !isFalse(def['arg']);
  });
  if (analyze) return statement(node['query'] as Node, w);
  // Without ANALYZE nothing runs: what the statement touches is only read (planned).
  const inner: Access[] = [];
  statement(node['query'] as Node, new Walk(w.schema, inner));
  for (const a of inner) w.out.push(a.kind === 'write' ? { kind: 'read', table: a.table } : a);
}

function setting(node: Node, w: Walk): void {
  const name = String(node['name'] ?? '').toLowerCase();
  const kind = String(node['kind'] ?? '');
  if (kind === 'VAR_RESET_ALL') {
    w.out.push({ kind: 'read-write' }, { kind: 'search-path' });
    return;
  }
  if (PRIVILEGED_SETTINGS.has(name)) w.out.push({ kind: 'unchecked', what: `SET ${name.toUpperCase()}` });
  else if (name === 'search_path') w.out.push({ kind: 'search-path' });
  else if (READ_ONLY_SETTINGS.has(name)) {
    const [value] = (node['args'] as unknown[] | undefined) ?? [];
    if (kind !== 'VAR_SET_VALUE' || !isOn(value)) w.out.push({ kind: 'read-write' });
  }
  else if (name === 'transaction' || name === 'session characteristics') transactionMode({ options: node['args'] }, w);
}

/** BEGIN READ WRITE, SET TRANSACTION READ WRITE: a read-only session must not switch that off. */
function transactionMode(node: Node, w: Walk): void {
  for (const option of (node['options'] as Node[] | undefined) ?? []) {
    const def = unwrap(option);
    if (def['defname'] === 'transaction_read_only' && isFalse(def['arg'])) w.out.push({ kind: 'read-write' });
  }
}

function writeTo(rangeVar: Node, w: Walk): void {
  const t = w.table(unwrap(rangeVar));
  if (t) w.out.push({ kind: 'write', table: t });
}

function readFrom(rangeVar: Node, w: Walk): void {
  const t = w.table(unwrap(rangeVar));
  if (t) w.out.push({ kind: 'read', table: t });
}

function withCtes(node: Node, w: Walk, body: () => void): void {
  const ctes = ((unwrap((node['withClause'] as Node | undefined) ?? {})['ctes'] as Node[] | undefined) ?? []).map(unwrap);
  const names = new Set(ctes.map((c) => String(c['ctename'] ?? '')));
  w.ctes.push(names);
  for (const cte of ctes) statement(cte['ctequery'] as Node, w);
  body();
  w.ctes.pop();
}

/** The generic walk: every table named anywhere is read; every function called is checked. */
function walk(value: unknown, w: Walk): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, w);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const node = value as Node;
  for (const [key, child] of Object.entries(node)) {
    switch (key) {
      case 'RangeVar':
        readFrom(node, w);
        break;
      case 'SelectStmt':
        withCtes(child as Node, w, () => {
          for (const [k, v] of Object.entries(child as Node)) if (k !== 'withClause') walk(v, w);
        });
        if ((child as Node)['intoClause'] !== undefined) w.out.push({ kind: 'ddl', what: 'SELECT INTO' });
        break;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        writeStatement(child as Node, w);
        break;
      case 'FuncCall':
        functionCall(child as Node, w);
        walk(child, w);
        break;
      default:
        walk(child, w);
    }
  }
}

function functionCall(node: Node, w: Walk): void {
  const parts = ((node['funcname'] as Node[] | undefined) ?? []).map((p) => String(unwrap(p)['sval'] ?? ''));
  const name = (parts.at(-1) ?? '').toLowerCase();
  const schema = parts.length > 1 ? (parts[0] ?? '').toLowerCase() : undefined;
  if (name === 'set_config') return setConfig(node, w);
  if (isDeniedFunction(name)) w.out.push({ kind: 'unchecked', what: `function ${name}()` });
  else if (!isAllowedFunction(name, schema)) w.out.push({ kind: 'unchecked', what: `function ${parts.join('.')}() (user-defined functions need scope all)` });
}

/** set_config(name, value, local): the same rules as SET, when the name is a constant. */
function setConfig(node: Node, w: Walk): void {
  const [nameArg, valueArg] = (node['args'] as unknown[] | undefined) ?? [];
  const name = constantValue(nameArg);
  if (name === undefined || PRIVILEGED_SETTINGS.has(name)) w.out.push({ kind: 'unchecked', what: 'set_config() of a security setting' });
  else if (name === 'search_path') w.out.push({ kind: 'search-path' });
  else if (READ_ONLY_SETTINGS.has(name) && !isOn(valueArg)) w.out.push({ kind: 'read-write' });
}

function only(wrapped: Node): [string, Node | undefined] {
  const [entry] = Object.entries(wrapped);
  return entry === undefined ? ['', undefined] : [entry[0], entry[1] as Node];
}

/** `{ RangeVar: {...} }` → `{...}`; a bare node stays as it is. */
function unwrap(node: Node): Node {
  const keys = Object.keys(node);
  if (keys.length === 1 && /^[A-Z]/.test(keys[0] ?? '')) return node[keys[0] ?? ''] as Node;
  return node;
}

/** The value of a constant argument, lower-cased: `0`, `1`, `off`, `false`, …; undefined if not a constant. */
export function constantValue(arg: unknown): string | undefined {
  constantsConsulted = true;
  if (typeof arg !== 'object' || arg === null) return undefined;
  const node = arg as Node;
  if ('String' in node) return String(unwrap(node)['sval'] ?? '').toLowerCase();
  const c = node['A_Const'] as Node | undefined;
  if (c === undefined) return undefined;
  // The parser leaves out fields at their default: `ival: {}` is 0, `boolval: {}` is false.
  if ('ival' in c) return String((c['ival'] as Node)['ival'] ?? 0);
  if ('boolval' in c) return (c['boolval'] as Node)['boolval'] === true ? 'true' : 'false';
  if ('sval' in c) return String((c['sval'] as Node)['sval'] ?? '').toLowerCase();
  return undefined;
}

function isFalse(arg: unknown): boolean {
  const value = constantValue(arg);
  return value !== undefined && ['0', 'false', 'off', 'no', 'f', 'n'].includes(value);
}

function isOn(arg: unknown): boolean {
  const value = constantValue(arg);
  return value !== undefined && ['1', 'true', 'on', 'yes', 't', 'y'].includes(value);
}
