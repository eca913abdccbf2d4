import { textOf } from '../../../src/json-value.js';

type Node = Record<string, unknown>;

/** What the statements say, where the parse tree's type name is not it. */
const OPERATIONS: Readonly<Record<string, string>> = {
  CreateStmt: 'CREATE TABLE',
  AlterTableStmt: 'ALTER',
  IndexStmt: 'CREATE INDEX ON',
  ViewStmt: 'CREATE VIEW',
  CreateSeqStmt: 'CREATE SEQUENCE',
  AlterSeqStmt: 'ALTER SEQUENCE',
  RenameStmt: 'RENAME',
  CommentStmt: 'COMMENT ON',
  CreateSchemaStmt: 'CREATE SCHEMA',
  CreateDomainStmt: 'CREATE DOMAIN',
  CreateEnumStmt: 'CREATE TYPE … AS ENUM',
  CompositeTypeStmt: 'CREATE TYPE',
  AlterEnumStmt: 'ALTER TYPE',
  AlterObjectSchemaStmt: 'ALTER … SET SCHEMA',
  AlterOwnerStmt: 'ALTER … OWNER TO',
  RuleStmt: 'CREATE RULE ON',
  CreateStatsStmt: 'CREATE STATISTICS ON',
  CreateTableSpaceStmt: 'CREATE TABLESPACE',
  ReindexStmt: 'REINDEX',
  RefreshMatViewStmt: 'REFRESH MATERIALIZED VIEW',
  CreatePolicyStmt: 'CREATE POLICY ON',
  AlterPolicyStmt: 'ALTER POLICY ON',
  ClusterStmt: 'CLUSTER',
  VacuumStmt: 'VACUUM or ANALYZE',
};

/**
 * A DDL statement as a denial names it: the operation and the object it acts on, as written
 * (`DROP TABLE records`, `CREATE INDEX ON public.records`), so the operator can see what was asked.
 */
export function ddlWhat(type: string, node: Node): string {
  if (type === 'DropStmt') {
    const kind = textOf(node['removeType'])
      .replace(/^OBJECT_/, '')
      .replace(/_/g, ' ');
    const objects = ((node['objects'] as unknown[] | undefined) ?? []).map(objectName).filter((n) => n !== '');
    return `DROP ${kind}${objects.length > 0 ? ` ${objects.join(', ')}` : ''}`;
  }
  const operation = OPERATIONS[type] ?? type.replace(/Stmt$/, '');
  const relation = firstRangeVar(node, 0);
  const object = relation ?? (typeof node['schemaname'] === 'string' ? node['schemaname'] : undefined);
  return object === undefined ? operation : `${operation} ${object}`;
}

/** A dropped object's name: a list of identifiers (`sales.orders`), or a single one. */
function objectName(o: unknown): string {
  if (typeof o !== 'object' || o === null) return '';
  const node = o as Node;
  const list = node['List'] as Node | undefined;
  const items = (list?.['items'] as Node[] | undefined) ?? [node];
  return items
    .map((i) => (i['String'] as Node | undefined)?.['sval'])
    .filter((v): v is string => typeof v === 'string')
    .join('.');
}

/** The first table the statement names, `schema.table` as written; a bounded search (DDL trees are shallow where it matters). */
function firstRangeVar(value: unknown, depth: number): string | undefined {
  if (depth > 6 || typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = firstRangeVar(v, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const node = value as Node;
  if (typeof node['relname'] === 'string') {
    return typeof node['schemaname'] === 'string' ? `${node['schemaname']}.${node['relname']}` : node['relname'];
  }
  for (const child of Object.values(node)) {
    const found = firstRangeVar(child, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
