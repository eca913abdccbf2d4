import { textOf } from '../../../src/json-value.js';

/** A node of libpg_query's JSON parse tree. */
export type Node = Record<string, unknown>;

/** The qualified name of a FuncCall, an operator or a type, part by part. */
export function nameParts(list: unknown): string[] {
  return ((list as Node[] | undefined) ?? []).map((p) => textOf(unwrap(p)['sval']));
}

/** `{ SelectStmt: {...} }` → `['SelectStmt', {...}]`. */
export function only(wrapped: Node): [string, Node | undefined] {
  const [entry] = Object.entries(wrapped);
  return entry === undefined ? ['', undefined] : [entry[0], entry[1] as Node];
}

/** `{ RangeVar: {...} }` → `{...}`; a bare node stays as it is. */
export function unwrap(node: Node): Node {
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
