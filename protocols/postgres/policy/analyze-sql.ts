import type { Access } from '../../../src/policy/access.js';
import type { TableName } from '../../../src/config/scope.js';
import { catalogClass, isCatalogRelation } from './catalog-relations.js';
import { ddlWhat } from './ddl-names.js';
import { functionKind, isAllowedSamplingMethod, isBuiltinOperator, isBuiltinType } from './functions.js';
import { isOff, settingAccess, type SettingChange } from './settings.js';
import type { SqlParser } from './sql-parser.js';
import { StatementRejected } from './statement-rejected.js';
import { textOf } from '../../../src/json-value.js';

type Node = Record<string, unknown>;

export interface AnalysisContext {
  readonly parser: SqlParser;
  /** The schema unqualified tables are in (the session's pinned search_path). */
  readonly schema: string;
  /**
   * The server's encoding is not UTF8: it truncates and compares names in bytes of another
   * encoding, so only ASCII names of tables, schemas and functions are read the same on both sides.
   */
  readonly asciiNamesOnly: boolean;
  /** Settings the gateway set at login (identity, timeouts): the agent may reset them but not change them. */
  readonly managedSettings: ReadonlySet<string>;
}

export interface Analysis {
  readonly accesses: Access[];
  /** Did the verdict depend on a constant's value (SET … = off, set_config('role', …))? Then it holds for this text only. */
  readonly dependsOnConstants: boolean;
  /** The statement is one `SET [LOCAL] application_name` to a constant: it goes upstream with the agent's name kept first. */
  readonly applicationName?: ApplicationNameChange;
}

/** What a lone `SET application_name` asks for; the gateway sends its own SET with the agent's name in front. */
export interface ApplicationNameChange {
  readonly value: string;
  readonly local: boolean;
}

const DDL = new Set([
  'CreateStmt',
  'AlterTableStmt',
  'DropStmt',
  'CommentStmt',
  'IndexStmt',
  'ViewStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
  'RenameStmt',
  'CreateSchemaStmt',
  'CreateDomainStmt',
  'CreateEnumStmt',
  'CompositeTypeStmt',
  'AlterEnumStmt',
  'AlterObjectSchemaStmt',
  'AlterOwnerStmt',
  'RuleStmt',
  'CreateStatsStmt',
  'CreateTableSpaceStmt',
  'ReindexStmt',
  'RefreshMatViewStmt',
  'CreatePolicyStmt',
  'AlterPolicyStmt',
  'ClusterStmt',
  'VacuumStmt',
]);
/**
 * Statements that create code the server runs by itself later (functions, triggers, operators,
 * aggregates, types with I/O functions, extensions): the gateway cannot see into that code, so
 * they need the `all` scope even when the scope has ddl.
 */
const CODE = new Set([
  'CreateFunctionStmt',
  'AlterFunctionStmt',
  'CreateTrigStmt',
  'DefineStmt',
  'CreateExtensionStmt',
  'CreateEventTrigStmt',
]);
/** Housekeeping that touches no table and changes no right. */
const HOUSEKEEPING = new Set(['VariableShowStmt', 'DiscardStmt', 'DeallocateStmt', 'UnlistenStmt', 'ClosePortalStmt', 'FetchStmt']);
/** Two-phase commit names a transaction any session of the same role may finish: another agent's. */
const TWO_PHASE = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);

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
  return { accesses: walk.out, dependsOnConstants: walk.constantsConsulted };
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

/** How a statement uses a relation it names: a write target and a lock are never a CTE and never a catalog. */
type RelationUse = 'read' | 'write' | 'lock';

class Walk {
  /**
   * The WITH names visible at this point, innermost level last. A level holds the names Postgres
   * shows there: under plain WITH a CTE's own body sees only the siblings before it, the main
   * statement sees them all; under WITH RECURSIVE every body sees every name of its list.
   */
  readonly ctes: Set<string>[] = [];
  readonly out: Access[] = [];
  constantsConsulted = false;
  constructor(readonly context: AnalysisContext) {}

  /**
   * The table a RangeVar names, resolved as the server does: an unqualified name is a visible CTE
   * if one has it (never for a write target or a lock), else a pg_catalog relation of the server's
   * version if there is one, else a table of the session's schema. Undefined for a CTE or a
   * catalog, whose access is recorded here.
   */
  table(rangeVar: Node, use: RelationUse): TableName | undefined {
    const name = textOf(rangeVar['relname']);
    const schemaName = rangeVar['schemaname'] === undefined ? undefined : textOf(rangeVar['schemaname']);
    this.checkName(schemaName === undefined ? name : `${schemaName}.${name}`);
    if (use === 'read' && schemaName === undefined && this.ctes.some((names) => names.has(name))) return undefined;
    const catalogSchema =
      schemaName === 'pg_catalog' || schemaName === 'information_schema'
        ? schemaName
        : schemaName === undefined && isCatalogRelation(name, this.context.parser.major)
          ? 'pg_catalog'
          : undefined;
    if (catalogSchema !== undefined) {
      if (use === 'read') this.catalog(catalogSchema, name);
      else {
        this.out.push({ kind: 'unchecked', what: `${use === 'lock' ? 'locking' : 'writing'} the system catalog ${catalogSchema}.${name}` });
      }
      return undefined;
    }
    return { schema: schemaName ?? this.context.schema, table: name };
  }

  constant(arg: unknown): string | undefined {
    this.constantsConsulted = true;
    return constantValue(arg);
  }

  checkName(name: string): void {
    // eslint-disable-next-line no-control-regex -- the range is all of ASCII, control characters included, on purpose
    if (this.context.asciiNamesOnly && /[^\x00-\x7f]/.test(name)) {
      this.out.push({ kind: 'unsupported', what: `the non-ASCII name ${name} on a server whose encoding is not UTF8` });
    }
  }

  private catalog(schema: 'pg_catalog' | 'information_schema', name: string): void {
    const what = `${schema}.${name}`;
    switch (catalogClass(schema, name)) {
      case 'metadata':
        return;
      case 'every-table':
        this.out.push({ kind: 'read-every-table', what });
        return;
      case 'server':
        this.out.push({ kind: 'unchecked', what: `reading ${what} (other sessions or the server itself)` });
        return;
      case undefined:
        this.out.push({ kind: 'unchecked', what: `reading ${what} (not a catalog the gateway knows)` });
    }
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
      return truncate(node, w);
    case 'ExplainStmt':
      return explain(node, w);
    case 'CreateTableAsStmt':
      w.out.push({ kind: 'ddl', what: 'CREATE TABLE AS' });
      return walk(node['query'], w);
    case 'PrepareStmt':
    case 'DeclareCursorStmt':
      return statement(node['query'] as Node, w);
    case 'ExecuteStmt':
      // The prepared statement was judged at PREPARE; its arguments are expressions evaluated now.
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
function writeStatement(node: Node, w: Walk): void {
  const relation = node['relation'] as Node | undefined;
  const target = relation && w.table(unwrap(relation), 'write');
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
}

/** BEGIN READ WRITE, SET TRANSACTION READ WRITE: a read-only session must not switch that off. */
function transactionMode(node: Node, w: Walk): void {
  for (const option of (node['options'] as Node[] | undefined) ?? []) {
    const def = unwrap(option);
    if (def['defname'] === 'transaction_read_only' && isFalse(def['arg'], w)) w.out.push({ kind: 'read-write' });
  }
}

function writeTo(rangeVar: Node, w: Walk): void {
  const t = w.table(unwrap(rangeVar), 'write');
  if (t) w.out.push({ kind: 'write', table: t });
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
  for (const r of relations) writeTo(r, w);
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
        writeStatement(child as Node, w);
        break;
      case 'FuncCall':
        functionCall(child as Node, w);
        walk(child, w);
        break;
      case 'A_Expr':
        operator((child as Node)['name'], w);
        walk(child, w);
        break;
      case 'SubLink':
        // x OP ANY/ALL (subquery) and row comparisons with a subquery name their operator here.
        operator((child as Node)['operName'], w);
        walk(child, w);
        break;
      case 'typeName':
        // A cast, a column definition list (`AS x(a t)`), XMLTABLE and JSON_TABLE columns, a column of CREATE TABLE: every named type.
        namedType(child, w);
        walk(child, w);
        break;
      case 'SortBy':
        // ORDER BY … USING op names an operator too.
        if ((child as Node)['useOp'] !== undefined) operator((child as Node)['useOp'], w);
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

function nameParts(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((p) => textOf(unwrap(p)['sval']));
}

function functionCall(node: Node, w: Walk): void {
  const parts = nameParts(node['funcname']);
  const name = parts.at(-1) ?? '';
  const schema = parts.length > 1 ? parts[0] : undefined;
  const shown = parts.join('.');
  w.checkName(shown);
  const kind = functionKind(name, schema, w.context.parser.major);
  if (!kind.builtin) {
    w.out.push({
      kind: 'unchecked',
      what: `the function ${shown}() (not a built-in of PostgreSQL ${w.context.parser.major}; user-defined and extension functions need scope all)`,
    });
    return;
  }
  if (name === 'set_config') return setConfig(node, w);
  if (name === 'pg_notify') return pgNotify(node, w);
  switch (kind.class) {
    case 'safe':
      return;
    case 'data-reading':
      w.out.push({ kind: 'read-every-table', what: `the built-in function ${name}() (it reads any table named in its arguments)` });
      return;
    case 'side-effecting':
    case 'security-relevant':
      w.out.push({ kind: 'unchecked', what: `the built-in function ${name}() (${kind.class})` });
  }
}

/** Operators are resolved by name like functions, case-exact; only the server's own names are used under a parsed scope. */
function operator(list: unknown, w: Walk): void {
  const parts = nameParts(list);
  if (parts.length === 0) return;
  const name = parts.at(-1) ?? '';
  // BETWEEN, LIKE and friends carry their keyword or a built-in operator; only symbols are operator names.
  if (!/^[~!@#^&|`?+\-*/%<>=]+$/.test(name)) return;
  const schema = parts.length > 1 ? parts[0] : undefined;
  if (!isBuiltinOperator(name, schema, w.context.parser.major)) {
    w.out.push({ kind: 'unchecked', what: `the operator ${parts.join('.')} (user-defined operators need scope all)` });
  }
}

/**
 * A type named anywhere (CAST(x AS t), x::t, a column definition): a built-in, named exactly
 * (`"INT4"` is a user type, not int4). Producing a value of a user type runs its code (a
 * domain's CHECK, a user-defined cast or input function).
 */
function namedType(typeName: unknown, w: Walk): void {
  if (typeof typeName !== 'object' || typeName === null || !Array.isArray((typeName as Node)['names'])) return;
  const parts = nameParts((typeName as Node)['names']);
  const name = parts.at(-1) ?? '';
  const schema = parts.length > 1 ? parts[0] : undefined;
  w.checkName(parts.join('.'));
  if (parts.length > 2 || !isBuiltinType(name, schema, w.context.parser.major)) {
    w.out.push({
      kind: 'unchecked',
      what: `the type ${parts.join('.')} (user-defined types run their own code; they need scope all)`,
    });
  }
}

function sampling(node: Node, w: Walk): void {
  const parts = nameParts(node['method']);
  const name = (parts.at(-1) ?? '').toLowerCase();
  if (parts.length > 1 || !isAllowedSamplingMethod(name)) w.out.push({ kind: 'unchecked', what: `TABLESAMPLE method ${parts.join('.')}` });
}

/** set_config(name, value, local): the same rules as SET, when the name is a constant. */
function setConfig(node: Node, w: Walk): void {
  const [nameArg, valueArg] = (node['args'] as unknown[] | undefined) ?? [];
  const name = w.constant(nameArg);
  if (name === undefined) {
    w.out.push({ kind: 'unchecked', what: 'set_config() of a setting named by an expression' });
    return;
  }
  w.out.push(...settingAccess(name, { to: 'value', value: w.constant(valueArg) }, 'set_config', w.context.managedSettings));
}

function pgNotify(node: Node, w: Walk): void {
  const [channelArg] = (node['args'] as unknown[] | undefined) ?? [];
  const channel = constantValue(channelArg, false);
  w.constantsConsulted = true;
  w.out.push(
    channel === undefined ? { kind: 'unchecked', what: 'pg_notify() on a channel named by an expression' } : { kind: 'notify', channel },
  );
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

/** The value of a constant argument (`0`, `1`, `off`, `false`, …), lower-cased unless asked not to; undefined if not a constant. */
export function constantValue(arg: unknown, lowerCase = true): string | undefined {
  if (typeof arg !== 'object' || arg === null) return undefined;
  const node = arg as Node;
  const fold = (s: string): string => (lowerCase ? s.toLowerCase() : s);
  if ('String' in node) return fold(textOf(unwrap(node)['sval']));
  const c = node['A_Const'] as Node | undefined;
  if (c === undefined) return undefined;
  // The parser leaves out fields at their default: `ival: {}` is 0, `boolval: {}` is false.
  if ('ival' in c) return textOf((c['ival'] as Node)['ival'], '0');
  if ('boolval' in c) return (c['boolval'] as Node)['boolval'] === true ? 'true' : 'false';
  if ('sval' in c) return fold(textOf((c['sval'] as Node)['sval']));
  return undefined;
}

function isFalse(arg: unknown, w: Walk): boolean {
  const value = w.constant(arg);
  return value !== undefined && isOff(value);
}
