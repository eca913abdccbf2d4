import { builtinsOf } from './builtins/builtins-of.js';
import { functionClass, informationSchemaFunctionClass, type FunctionClass } from './builtins/function-classes.js';

/**
 * Functions, operators and types a scoped session may name. A scope speaks of tables; code can
 * reach anything (files, other sessions, tables through its own body), so only the server's own
 * built-ins, sorted by what they do, are judged; anything else — user-defined or from an
 * extension — needs the `all` scope. Names are compared exactly as the parser hands them over
 * (unquoted ones are already folded to lower case): `"NOW"()` is not `now()`. A built-in's name
 * that another schema of the session's search path overloads is user-defined too: the caller
 * checks `AnalysisContext.shadowed` (shadowed-builtins.ts), which these per-version tables cannot know.
 */

/** How a function name resolves under the session's search path (pg_catalog first), and what it does. */
export type FunctionKind = { readonly builtin: true; readonly class: FunctionClass } | { readonly builtin: false };

const USER_DEFINED: FunctionKind = { builtin: false };

/** `schema` is the qualifier as written (case kept), undefined when unqualified. */
export function functionKind(name: string, schema: string | undefined, major: number): FunctionKind {
  // information_schema is never on the pinned search path: its helpers are built-ins only when named with it.
  const cls =
    schema === 'information_schema'
      ? informationSchemaFunctionClass(name, builtinsOf(major))
      : schema === undefined || schema === 'pg_catalog'
        ? functionClass(name, builtinsOf(major))
        : undefined;
  return cls === undefined ? USER_DEFINED : { builtin: true, class: cls };
}

/**
 * An operator a scoped session may use: one of the server's own names, unqualified or in
 * pg_catalog. A user-defined operator runs a user-defined function, which needs the `all` scope.
 */
export function isBuiltinOperator(name: string, schema: string | undefined, major: number): boolean {
  return (schema === undefined || schema === 'pg_catalog') && builtinsOf(major).operators.has(name);
}

/**
 * A type named in a cast: a built-in, unqualified or in pg_catalog. Casting to a user-defined type
 * runs its code (a domain's CHECK, a user-defined cast or input function), which needs `all`.
 */
export function isBuiltinType(name: string, schema: string | undefined, major: number): boolean {
  return (schema === undefined || schema === 'pg_catalog') && builtinsOf(major).types.has(name);
}

/** TABLESAMPLE methods built into the server (others are extension or user code). */
export function isAllowedSamplingMethod(name: string): boolean {
  return name === 'system' || name === 'bernoulli';
}
