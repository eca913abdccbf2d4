import type { BuiltinCatalogue } from './builtin-catalogue.js';
import { POSTGRES_15 } from './postgres-15.js';
import { POSTGRES_16 } from './postgres-16.js';
import { POSTGRES_17 } from './postgres-17.js';
import { POSTGRES_18 } from './postgres-18.js';

/** What the server of one major version defines in pg_catalog and information_schema, as sets of exact (case-kept) names. */
export interface Builtins {
  readonly major: number;
  /** Function name → the volatilities of its overloads (`i`, `s`, `v`). */
  readonly functions: ReadonlyMap<string, string>;
  readonly operators: ReadonlySet<string>;
  readonly types: ReadonlySet<string>;
  readonly catalogRelations: ReadonlySet<string>;
  readonly informationSchemaRelations: ReadonlySet<string>;
  /** information_schema's function names → volatilities, callable only qualified (the schema is not on the search path). */
  readonly informationSchemaFunctions: ReadonlyMap<string, string>;
}

export const CATALOGUES: readonly BuiltinCatalogue[] = [POSTGRES_15, POSTGRES_16, POSTGRES_17, POSTGRES_18];

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '');
const built = new Map<number, Builtins>();

/** `name:volatilities` words as a map. */
function volatilities(text: string): Map<string, string> {
  return new Map(
    words(text).map((entry): [string, string] => {
      const colon = entry.lastIndexOf(':');
      return [entry.slice(0, colon), entry.slice(colon + 1)];
    }),
  );
}

/**
 * The built-ins of a major version (read once). A version without a list has no built-ins: every
 * name counts as user-defined there (fail closed); the gateway has parsers only for listed versions.
 */
export function builtinsOf(major: number): Builtins {
  let b = built.get(major);
  if (b === undefined) {
    const c = CATALOGUES.find((x) => x.major === major);
    b = {
      major,
      functions: volatilities(c?.functions ?? ''),
      operators: new Set(words(c?.operators ?? '')),
      types: new Set(words(c?.types ?? '')),
      catalogRelations: new Set(words(c?.catalogRelations ?? '')),
      informationSchemaRelations: new Set(words(c?.informationSchemaRelations ?? '')),
      informationSchemaFunctions: volatilities(c?.informationSchemaFunctions ?? ''),
    };
    built.set(major, b);
  }
  return b;
}
