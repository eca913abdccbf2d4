/**
 * Built-in names that the server may resolve to someone else's code. Functions and operators are
 * resolved by name *and argument types*: pg_catalog comes first in the search path, but an
 * overload in another schema of the path that matches the arguments better (`public.lower(int)`
 * for `lower(1)`, `public.||(text, int)` for `'a' || 1`) is called instead of the built-in — code
 * the gate cannot see. So a scoped session reads, when it starts, which built-in names its own
 * search path overloads, and those names count as user-defined for it (scope `all`).
 *
 * Overloads an extension adds that are not volatile and do not run as another role (citext's `=`
 * and `replace`, hstore's `->`, PostGIS's operators) come from the server's own extension files, as
 * the built-ins do, and do not shadow: otherwise `=` would be refused wherever citext is installed.
 * An aggregate counts as an extension's when its support functions all do.
 */
export interface ShadowedBuiltins {
  readonly functions: ReadonlySet<string>;
  readonly operators: ReadonlySet<string>;
}

export const NO_SHADOWS: ShadowedBuiltins = { functions: new Set(), operators: new Set() };

/**
 * The query a scoped session's upstream answers right after login, as its own role and with its
 * pinned search path: one row (kind, name, the overload as `schema.name(arguments)`) per overload
 * that shadows. Names only of built-ins (a name pg_catalog does not have is user-defined anyway).
 */
export const SHADOWED_BUILTINS_QUERY = `WITH path AS (
  SELECT oid FROM pg_catalog.pg_namespace
  WHERE nspname OPERATOR(pg_catalog.=) ANY (pg_catalog.current_schemas(true)) AND nspname OPERATOR(pg_catalog.<>) 'pg_catalog'
), extension_code AS (
  SELECT objid FROM pg_catalog.pg_depend
  WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND deptype OPERATOR(pg_catalog.=) 'e'
), trusted_function AS (
  SELECT p.oid FROM pg_catalog.pg_proc p
  WHERE p.prokind OPERATOR(pg_catalog.=) ANY (ARRAY['f', 'w']::"char"[]) AND p.provolatile OPERATOR(pg_catalog.<>) 'v' AND NOT p.prosecdef
    AND p.oid IN (SELECT objid FROM extension_code)
), trusted AS (
  SELECT oid FROM trusted_function
  UNION ALL
  SELECT a.aggfnoid FROM pg_catalog.pg_aggregate a
  WHERE a.aggfnoid IN (SELECT objid FROM extension_code)
    AND NOT EXISTS (
      SELECT 1 FROM (VALUES (a.aggtransfn), (a.aggfinalfn), (a.aggcombinefn), (a.aggserialfn), (a.aggdeserialfn),
        (a.aggmtransfn), (a.aggminvtransfn), (a.aggmfinalfn)) AS support(fn)
      WHERE support.fn OPERATOR(pg_catalog.<>) 0 AND support.fn NOT IN (SELECT oid FROM trusted_function))
)
SELECT 'function', p.proname::pg_catalog.text,
  pg_catalog.format('%I.%I(%s)', p.pronamespace::pg_catalog.regnamespace, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
FROM pg_catalog.pg_proc p
WHERE p.pronamespace IN (SELECT oid FROM path) AND p.oid NOT IN (SELECT oid FROM trusted)
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc b WHERE b.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace AND b.proname OPERATOR(pg_catalog.=) p.proname)
UNION
SELECT 'operator', o.oprname::pg_catalog.text,
  pg_catalog.format('%I.%s(%s, %s)', o.oprnamespace::pg_catalog.regnamespace, o.oprname, pg_catalog.format_type(o.oprleft, NULL), pg_catalog.format_type(o.oprright, NULL))
FROM pg_catalog.pg_operator o
WHERE o.oprnamespace IN (SELECT oid FROM path) AND o.oprcode NOT IN (SELECT oid FROM trusted)
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_operator b WHERE b.oprnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace AND b.oprname OPERATOR(pg_catalog.=) o.oprname)`;

/** The query's rows, as sets. */
export function shadowsFromRows(rows: readonly (readonly (string | null)[])[]): ShadowedBuiltins {
  if (rows.length === 0) return NO_SHADOWS;
  const functions = new Set<string>();
  const operators = new Set<string>();
  for (const [kind, name] of rows) {
    if (name === null || name === undefined) continue;
    if (kind === 'function') functions.add(name);
    else if (kind === 'operator') operators.add(name);
  }
  return { functions, operators };
}

const keys = new WeakMap<ShadowedBuiltins, string>();

/** The shadowed names as part of a verdict cache key, built once per set (each session holds one). */
export function shadowsKey(shadows: ShadowedBuiltins): string {
  let key = keys.get(shadows);
  if (key === undefined) {
    key = JSON.stringify([[...shadows.functions].sort(), [...shadows.operators].sort()]);
    keys.set(shadows, key);
  }
  return key;
}

/** The sets as plain lists, to cross to the analysis thread. */
export interface ShadowLists {
  readonly functions: readonly string[];
  readonly operators: readonly string[];
}

export function shadowLists(shadows: ShadowedBuiltins): ShadowLists {
  return { functions: [...shadows.functions], operators: [...shadows.operators] };
}

export function shadowsFromLists(lists: ShadowLists): ShadowedBuiltins {
  if (lists.functions.length === 0 && lists.operators.length === 0) return NO_SHADOWS;
  return { functions: new Set(lists.functions), operators: new Set(lists.operators) };
}

/** What `idgate check --connect` says of the overloads the query found (its rows), if any. */
export function shadowsNote(rows: readonly (readonly (string | null)[])[]): string | undefined {
  const found = rows.map(([kind, , overload]) => `${kind ?? ''} ${overload ?? ''}`).sort();
  if (found.length === 0) return undefined;
  return `scoped sessions refuse the built-in names these overload on the search path (the server could call them instead): ${found.join(', ')}`;
}
