import { builtinsOf } from './builtins/builtins-of.js';

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
 * An aggregate counts as an extension's when its support functions all are an extension's or
 * pg_catalog's, none volatile or `SECURITY DEFINER`.
 */
export interface ShadowedBuiltins {
  readonly functions: ReadonlySet<string>;
  readonly operators: ReadonlySet<string>;
}

export const NO_SHADOWS: ShadowedBuiltins = { functions: new Set(), operators: new Set() };

/**
 * The query a scoped session's upstream answers right after login, as its own role and with its
 * pinned search path: one row (kind, name, the overload as `schema.name(arguments)`) per function
 * or operator in a schema of the path other than pg_catalog that is not an extension's trusted
 * code. Which of those names are built-ins is decided here, from the server version's catalogue.
 *
 * Its cost is part of every scoped login, so it is shaped for a backend whose catalog caches are
 * cold: the trusted functions are found once, from the extensions' members (an aggregate's
 * support functions are checked only for the extensions' aggregates, one by one), and only the
 * rows that remain are formatted. Put as one anti-join, the server checked every aggregate of the
 * catalog and formatted every candidate first: about a quarter slower.
 */
export const SHADOWED_BUILTINS_QUERY = `WITH path AS (
  SELECT oid FROM pg_catalog.pg_namespace
  WHERE nspname OPERATOR(pg_catalog.=) ANY (pg_catalog.current_schemas(true)) AND nspname OPERATOR(pg_catalog.<>) 'pg_catalog'
), trusted AS (
  SELECT f.oid FROM pg_catalog.pg_proc f
  WHERE f.provolatile OPERATOR(pg_catalog.<>) 'v' AND NOT f.prosecdef
    AND f.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
      WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype OPERATOR(pg_catalog.=) 'e')
    AND (f.prokind OPERATOR(pg_catalog.=) ANY (ARRAY['f', 'w']::"char"[]) OR f.prokind OPERATOR(pg_catalog.=) 'a' AND (
      SELECT pg_catalog.count(*) FROM pg_catalog.pg_aggregate a
      CROSS JOIN LATERAL (VALUES (a.aggtransfn), (a.aggfinalfn), (a.aggcombinefn), (a.aggserialfn), (a.aggdeserialfn),
        (a.aggmtransfn), (a.aggminvtransfn), (a.aggmfinalfn)) AS support(fn)
      JOIN pg_catalog.pg_proc s ON s.oid OPERATOR(pg_catalog.=) support.fn::pg_catalog.oid
      WHERE a.aggfnoid OPERATOR(pg_catalog.=) f.oid
        AND (s.provolatile OPERATOR(pg_catalog.=) 'v' OR s.prosecdef
          OR s.pronamespace OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid OPERATOR(pg_catalog.=) s.oid
              AND d.deptype OPERATOR(pg_catalog.=) 'e'))) OPERATOR(pg_catalog.=) 0)
)
SELECT 'function'::pg_catalog.text AS kind, p.proname::pg_catalog.text AS name,
  pg_catalog.format('%I.%I(%s)', p.pronamespace::pg_catalog.regnamespace, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS overload
FROM pg_catalog.pg_proc p
WHERE p.pronamespace OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM path)) AND p.oid NOT IN (SELECT oid FROM trusted)
UNION ALL
SELECT 'operator', o.oprname::pg_catalog.text,
  pg_catalog.format('%I.%s(%s, %s)', o.oprnamespace::pg_catalog.regnamespace, o.oprname, pg_catalog.format_type(o.oprleft, NULL), pg_catalog.format_type(o.oprright, NULL))
FROM pg_catalog.pg_operator o
WHERE o.oprnamespace OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT oid FROM path)) AND o.oprcode::pg_catalog.oid NOT IN (SELECT oid FROM trusted)`;

/** The query's rows whose names are built-ins of the server's major version, as sets. */
export function shadowsFromRows(rows: readonly (readonly (string | null)[])[], major: number): ShadowedBuiltins {
  const builtins = builtinsOf(major);
  const functions = new Set<string>();
  const operators = new Set<string>();
  for (const [kind, name] of rows) {
    if (name === null || name === undefined) continue;
    if (kind === 'function' && builtins.functions.has(name)) functions.add(name);
    else if (kind === 'operator' && builtins.operators.has(name)) operators.add(name);
  }
  return functions.size === 0 && operators.size === 0 ? NO_SHADOWS : { functions, operators };
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

/** What `idgate check --connect` says of the overloads the query found (its rows), if any shadows a built-in. */
export function shadowsNote(rows: readonly (readonly (string | null)[])[], major: number): string | undefined {
  const shadows = shadowsFromRows(rows, major);
  const found = rows
    .filter(([kind, name]) => (kind === 'function' ? shadows.functions : shadows.operators).has(name ?? ''))
    .map(([kind, , overload]) => `${kind ?? ''} ${overload ?? ''}`)
    .sort();
  if (found.length === 0) return undefined;
  return `scoped sessions refuse the built-in names these overload on the search path (the server could call them instead): ${found.join(', ')}`;
}
