import type { WriteOperation } from '../../../src/config/scope.js';
import { textOf } from '../../../src/json-value.js';
import type { Analysis, AnalysisContext, ApplicationNameChange } from './analysis-context.js';
import { ddlWhat } from './ddl-names.js';
import { functionCall, namedType, operatorsOf, sampling } from './expression-checks.js';
import { constantValue, only, unwrap, type Node } from './parse-tree.js';
import { isOff, settingAccess, type SettingChange } from './settings.js';
import { changesReading } from './reading-settings.js';
import { Walk } from './sql-walk.js';
import { StatementRejected } from './statement-rejected.js';
import { CODE, DDL, HOUSEKEEPING, TWO_PHASE } from './statement-kinds.js';

/**
 * Everything the statements in `sql` need, found by the real Postgres parser of the server's
 * major version and a walk of the whole tree: every statement of a multi-statement string, CTEs
 * (data-modifying ones included), subqueries, SELECT INTO, CREATE TABLE AS, EXPLAIN ANALYZE,
 * PREPARE and EXECUTE, COPY (its WHERE too), MERGE, INSERT … SELECT, functions, operators and
 * catalogs. Anything the walk does not understand is `unchecked`, which only the `all` scope
 * admits; a statement that cannot be parsed or walked throws StatementRejected (never a pass).
 */
export function analyzeSql(sql: string, context: AnalysisContext): Analysis {
  const tree = context.parser.parse(sql);
  const applicationName = loneApplicationNameSet(tree.stmts ?? []);
  // pgJDBC sends this after every login: it is rewritten, not refused, so the pinned name stays first.
  if (applicationName !== undefined) return { accesses: [], dependsOnConstants: true, applicationName };
  const walk = new Walk(context);
  try {
    for (const raw of tree.stmts ?? []) {
      if (raw.stmt !== undefined) statement(raw.stmt, walk);
    }
  } catch (e) {
    if (e instanceof RangeError) {
      throw new StatementRejected('sql-too-complex', '54001', 'statement too complex for the gateway to analyse');
    }
    throw e;
  }
  return {
    accesses: walk.out,
    dependsOnConstants: walk.constantsConsulted,
    ...(walk.unpinnable !== undefined ? { unpinnable: walk.unpinnable } : {}),
    ...(walk.executes.length > 0 ? { executes: walk.executes } : {}),
    ...(walk.changesReading !== undefined ? { changesReading: walk.changesReading } : {}),
  };
}

/**
 * `SET [SESSION | LOCAL] application_name {= | TO} <constant>` as the whole text, else undefined. In
 * a text of several statements it stays refused: rewriting one statement among others would have
 * to re-print the rest.
 */
function loneApplicationNameSet(stmts: readonly { stmt?: Node }[]): ApplicationNameChange | undefined {
  if (stmts.length !== 1 || stmts[0]?.stmt === undefined) return undefined;
  const node = stmts[0].stmt['VariableSetStmt'] as Node | undefined;
  if (node === undefined || textOf(node['kind']) !== 'VAR_SET_VALUE' || textOf(node['name']).toLowerCase() !== 'application_name') {
    return undefined;
  }
  const args = (node['args'] as unknown[] | undefined) ?? [];
  const value = args.length === 1 ? constantValue(args[0], false) : undefined;
  return value === undefined ? undefined : { value, local: node['is_local'] === true };
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
      return writeStatement(node, w, WRITE_OPS[type] ?? 'merge');
    case 'CopyStmt':
      return copy(node, w);
    case 'TruncateStmt':
      return truncate(node, w);
    case 'ExplainStmt':
      return explain(node, w);
    case 'CreateTableAsStmt':
      w.out.push({ kind: 'ddl', what: 'CREATE TABLE AS' });
      return walk(node['query'], w);
    case 'PrepareStmt':
      w.unpinnable ??= 'PREPARE (EXECUTE runs it again and again)';
      return statement(node['query'] as Node, w);
    case 'DeclareCursorStmt':
      return statement(node['query'] as Node, w);
    case 'ExecuteStmt':
      // The prepared statement was judged at PREPARE (or at its Parse); its arguments are expressions evaluated now.
      w.executes.push(textOf(node['name']));
      return walk(node['params'], w);
    case 'VariableSetStmt':
      return setting(node, w);
    case 'TransactionStmt':
      if (TWO_PHASE.has(textOf(node['kind']))) {
        w.out.push({ kind: 'unchecked', what: 'two-phase commit (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED)' });
      }
      return transactionMode(node, w);
    case 'LockStmt':
      return lock(node, w);
    case 'ListenStmt':
      w.out.push({ kind: 'listen', channel: textOf(node['conditionname']) });
      return;
    case 'NotifyStmt':
      w.out.push({ kind: 'notify', channel: textOf(node['conditionname']) });
      return;
    default:
      if (CODE.has(type)) {
        w.out.push({ kind: 'unchecked', what: `${type.replace(/Stmt$/, '')} (code the server runs by itself; it needs scope all)` });
        return;
      }
      if (DDL.has(type)) {
        w.out.push({ kind: 'ddl', what: ddlWhat(type, node) });
        return walk(node, w);
      }
      if (HOUSEKEEPING.has(type)) return;
      w.out.push({ kind: 'unchecked', what: type.replace(/Stmt$/, '') });
  }
}

/** INSERT/UPDATE/DELETE/MERGE: the target is written (reading it there is part of writing it); every other table is read. */
const WRITE_OPS: Readonly<Record<string, WriteOperation | 'merge'>> = { InsertStmt: 'insert', UpdateStmt: 'update', DeleteStmt: 'delete' };

function writeStatement(node: Node, w: Walk, op: WriteOperation | 'merge'): void {
  const relation = node['relation'] as Node | undefined;
  const target = relation && w.table(unwrap(relation), 'write');
  if (target) w.out.push({ kind: 'write', table: target, op });
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
  if (node['is_from'] === true) w.unpinnable ??= 'COPY … FROM STDIN (the rows come after the statement)';
  if (relation !== undefined) {
    if (node['is_from'] === true) writeTo({ RangeVar: relation }, w, 'insert');
    else readFrom({ RangeVar: relation }, w);
  }
  if (node['query'] !== undefined) statement(node['query'] as Node, w);
  // COPY … FROM … WHERE runs an expression on every row: its functions are checked like any other.
  walk(node['whereClause'], w);
}

function explain(node: Node, w: Walk): void {
  const options = (node['options'] as Node[] | undefined) ?? [];
  const analyze = options.some((o) => {
    const def = unwrap(o);
    return def['defname'] === 'analyze' && !isFalse(def['arg'], w);
  });
  if (analyze) return statement(node['query'] as Node, w);
  // Without ANALYZE nothing runs: what the statement touches is only read (planned).
  const inner = new Walk(w.context);
  statement(node['query'] as Node, inner);
  w.constantsConsulted ||= inner.constantsConsulted;
  for (const a of inner.out) w.out.push(a.kind === 'write' ? { kind: 'read', table: a.table } : a);
}

function setting(node: Node, w: Walk): void {
  const name = textOf(node['name']).toLowerCase();
  const kind = textOf(node['kind']);
  if (kind === 'VAR_RESET_ALL') {
    w.out.push({ kind: 'read-write' }, { kind: 'search-path' });
    return;
  }
  if (name === 'transaction' || name === 'session characteristics') return transactionMode({ options: node['args'] }, w);
  const args = (node['args'] as unknown[] | undefined) ?? [];
  let change: SettingChange;
  if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET') change = { to: 'default' };
  else change = { to: 'value', value: kind === 'VAR_SET_VALUE' && args.length === 1 ? w.constant(args[0]) : undefined };
  w.out.push(...settingAccess(name, change, 'SET', w.context.managedSettings));
  if (change.to === 'value' && changesReading(name, change.value)) w.changesReading ??= name;
}

/** BEGIN READ WRITE, SET TRANSACTION READ WRITE: a read-only session must not switch that off. */
function transactionMode(node: Node, w: Walk): void {
  for (const option of (node['options'] as Node[] | undefined) ?? []) {
    const def = unwrap(option);
    if (def['defname'] === 'transaction_read_only' && isFalse(def['arg'], w)) w.out.push({ kind: 'read-write' });
  }
}

function writeTo(rangeVar: Node, w: Walk, op: WriteOperation): void {
  const t = w.table(unwrap(rangeVar), 'write');
  if (t) w.out.push({ kind: 'write', table: t, op });
}

function readFrom(rangeVar: Node, w: Walk): void {
  const t = w.table(unwrap(rangeVar), 'read');
  if (t) w.out.push({ kind: 'read', table: t });
}

/**
 * TRUNCATE empties its tables (and, without ONLY, their inheritance children and partitions, which
 * are part of the table as for every other statement). With CASCADE it also empties every table
 * with a foreign key to them, which the gateway cannot list from the text: it needs write on every table.
 */
function truncate(node: Node, w: Walk): void {
  const relations = (node['relations'] as Node[] | undefined) ?? [];
  for (const r of relations) writeTo(r, w, 'delete');
  if (node['behavior'] === 'DROP_CASCADE') {
    const names = relations.map((r) => {
      const v = unwrap(r);
      return v['schemaname'] === undefined ? textOf(v['relname']) : `${textOf(v['schemaname'])}.${textOf(v['relname'])}`;
    });
    w.out.push({ kind: 'write-every-table', what: `TRUNCATE ${names.join(', ')} CASCADE` });
  }
}

/** AccessShareLock (LOCK … IN ACCESS SHARE MODE) is what reading takes; every stronger mode blocks writers, as writing does. */
const ACCESS_SHARE_LOCK = 1;

function lock(node: Node, w: Walk): void {
  const writes = node['mode'] !== ACCESS_SHARE_LOCK;
  for (const r of (node['relations'] as Node[] | undefined) ?? []) {
    const t = w.table(unwrap(r), 'lock');
    if (t) w.out.push({ kind: writes ? 'write' : 'read', table: t });
  }
}

/** A WITH clause's CTEs walked with the visibility Postgres gives them, then `body` with every name visible. */
function withCtes(node: Node, w: Walk, body: () => void): void {
  const clause = unwrap((node['withClause'] as Node | undefined) ?? {});
  const ctes = ((clause['ctes'] as Node[] | undefined) ?? []).map(unwrap);
  const visible = new Set<string>(clause['recursive'] === true ? ctes.map((c) => textOf(c['ctename'])) : []);
  w.ctes.push(visible);
  for (const cte of ctes) {
    statement(cte['ctequery'] as Node, w);
    visible.add(textOf(cte['ctename']));
  }
  body();
  w.ctes.pop();
}

/** The generic walk: every table named anywhere is read; every function and operator used is checked. */
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
        writeStatement(child as Node, w, WRITE_OPS[key] ?? 'merge');
        break;
      case 'FuncCall':
        functionCall(child as Node, w);
        walk(child, w);
        break;
      case 'A_Expr':
      case 'SubLink':
      case 'CaseExpr':
      case 'JoinExpr':
        operatorsOf(key, child as Node, w);
        walk(child, w);
        break;
      case 'typeName':
        // A cast, a column definition list (`AS x(a t)`), XMLTABLE and JSON_TABLE columns, a column of CREATE TABLE: every named type.
        namedType(child, w);
        walk(child, w);
        break;
      case 'SortBy':
        operatorsOf(key, child as Node, w);
        walk(child, w);
        break;
      case 'RangeTableSample':
        sampling(child as Node, w);
        walk(child, w);
        break;
      default:
        walk(child, w);
    }
  }
}

function isFalse(arg: unknown, w: Walk): boolean {
  const value = w.constant(arg);
  return value !== undefined && isOff(value);
}
