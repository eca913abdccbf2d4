import type { TableName } from '../../../src/config/scope.js';
import { textOf } from '../../../src/json-value.js';
import type { Access } from '../../../src/policy/access.js';
import type { AnalysisContext } from './analysis-context.js';
import { catalogClass, isCatalogRelation } from './catalog-relations.js';
import { constantValue, type Node } from './parse-tree.js';

/** How a statement uses a relation it names: a write target and a lock are never a CTE and never a catalog. */
export type RelationUse = 'read' | 'write' | 'lock';

/** One walk of a parse tree: the names visible where it stands, and the accesses found so far. */
export class Walk {
  /**
   * The WITH names visible at this point, innermost level last. A level holds the names Postgres
   * shows there: under plain WITH a CTE's own body sees only the siblings before it, the main
   * statement sees them all; under WITH RECURSIVE every body sees every name of its list.
   */
  readonly ctes: Set<string>[] = [];
  readonly out: Access[] = [];
  constantsConsulted = false;
  /** A statement an approval of this text could not pin (analysis-context.ts's `unpinnable`). */
  unpinnable: string | undefined;
  /** The prepared statements the text runs by name (EXECUTE, EXPLAIN ANALYZE EXECUTE). */
  readonly executes: string[] = [];
  /** The first setting the text changes that changes how the session reads statements (reading-settings.ts). */
  changesReading: string | undefined;
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
