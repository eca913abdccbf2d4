import { functionKind, isAllowedSamplingMethod, isBuiltinOperator, isBuiltinType } from './functions.js';
import { constantValue, nameParts, type Node } from './parse-tree.js';
import { settingAccess } from './settings.js';
import { changesReading } from './reading-settings.js';
import type { Walk } from './sql-walk.js';

/*
 * What an expression runs besides reading tables: functions, operators, types and sampling
 * methods, each resolved by name as the server resolves it (case-exact, schema-qualified or not),
 * and the built-ins that change settings or notify.
 */

export function functionCall(node: Node, w: Walk): void {
  const parts = nameParts(node['funcname']);
  const name = parts.at(-1) ?? '';
  const schema = parts.length > 1 ? parts[0] : undefined;
  const shown = parts.join('.');
  w.checkName(shown);
  const kind = functionKind(name, schema, w.context.parser.major);
  if (kind.builtin && schema === undefined && w.context.shadowed.functions.has(name)) {
    w.out.push({ kind: 'unchecked', what: `the function ${shown}() (${SHADOWED})` });
    return;
  }
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

/** `a [NOT] BETWEEN [SYMMETRIC] b AND c` is built of these, looked up by name. */
const BETWEEN_OPERATORS = ['<=', '>=', '<', '>'];

/** The operators a node uses: those it names, and those the server looks up by name for it. */
export function operatorsOf(key: string, node: Node, w: Walk): void {
  switch (key) {
    case 'A_Expr':
      operator(node['name'], w);
      if (String(node['kind']).includes('BETWEEN')) for (const op of BETWEEN_OPERATORS) impliedOperator(op, w);
      return;
    case 'SubLink':
      // x OP ANY/ALL (subquery) and row comparisons with a subquery name their operator; `x IN (subquery)` means `=`.
      if (node['operName'] !== undefined) operator(node['operName'], w);
      else if (node['subLinkType'] === 'ANY_SUBLINK') impliedOperator('=', w);
      return;
    case 'CaseExpr':
      // CASE x WHEN y compares with `=`.
      if (node['arg'] !== undefined) impliedOperator('=', w);
      return;
    case 'JoinExpr':
      // JOIN … USING and NATURAL JOIN compare their columns with `=`.
      if (node['usingClause'] !== undefined || node['isNatural'] === true) impliedOperator('=', w);
      return;
    case 'SortBy':
      // ORDER BY … USING op.
      if (node['useOp'] !== undefined) operator(node['useOp'], w);
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
  } else if (schema === undefined) impliedOperator(name, w);
}

/**
 * An operator the server looks up by name for a construct that names none (`BETWEEN`: `<=` and
 * `>=`; a simple `CASE` and `JOIN … USING`: `=`), or a built-in one named unqualified: refused
 * when a schema on the search path overloads it (shadowed-builtins.ts).
 */
function impliedOperator(name: string, w: Walk): void {
  if (w.context.shadowed.operators.has(name)) w.out.push({ kind: 'unchecked', what: `the operator ${name} (${SHADOWED})` });
}

const SHADOWED =
  'a schema on the search path overloads this built-in name, and the server may call that code instead: an overload outside pg_catalog needs scope all';

/**
 * A type named anywhere (CAST(x AS t), x::t, a column definition): a built-in, named exactly
 * (`"INT4"` is a user type, not int4). Producing a value of a user type runs its code (a
 * domain's CHECK, a user-defined cast or input function).
 */
export function namedType(typeName: unknown, w: Walk): void {
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

export function sampling(node: Node, w: Walk): void {
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
  const value = w.constant(valueArg);
  w.out.push(...settingAccess(name, { to: 'value', value }, 'set_config', w.context.managedSettings));
  if (changesReading(name, value)) w.changesReading ??= name.toLowerCase();
}

function pgNotify(node: Node, w: Walk): void {
  const [channelArg] = (node['args'] as unknown[] | undefined) ?? [];
  const channel = constantValue(channelArg, false);
  w.constantsConsulted = true;
  w.out.push(
    channel === undefined ? { kind: 'unchecked', what: 'pg_notify() on a channel named by an expression' } : { kind: 'notify', channel },
  );
}
