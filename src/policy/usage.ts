import type { Access } from './access.js';
import { parseScope, tableKey, type ChannelGrant, type TableGrant, type TableName } from '../config/scope.js';

/** What a set of statements actually needed, gathered access by access. */
export class UsedAccess {
  private readonly reads = new Map<string, TableName>();
  private readonly writes = new Map<string, TableName>();
  private readonly listens = new Set<string>();
  private readonly notifies = new Set<string>();
  private everyTable = false;
  private ddl = false;
  private unchecked = false;

  add(accesses: readonly Access[]): void {
    for (const a of accesses) {
      switch (a.kind) {
        case 'read':
          this.reads.set(tableKey(a.table), a.table);
          break;
        case 'write':
          this.writes.set(tableKey(a.table), a.table);
          break;
        case 'read-every-table':
          this.everyTable = true;
          break;
        case 'ddl':
          this.ddl = true;
          break;
        case 'listen':
          this.listens.add(a.channel);
          break;
        case 'notify':
          this.notifies.add(a.channel);
          break;
        case 'unchecked':
        case 'unsupported':
          this.unchecked = true;
          break;
        case 'search-path':
        case 'read-write':
          break;
      }
    }
  }

  /**
   * The narrowest scope that admits everything gathered, in the scope language: `all` if anything
   * needed it, else the tables read and written (unqualified when in `schema`), ddl, channels.
   * Empty when nothing touched a table.
   */
  narrowestScope(schema: string): string {
    if (this.unchecked) return 'all';
    const grants: string[] = [];
    const name = (t: TableName): string => (t.schema === schema ? identifier(t.table) : `${identifier(t.schema)}.${identifier(t.table)}`);
    const reads = [...this.reads.values()];
    if (this.everyTable) grants.push('read');
    else if (reads.length > 0) grants.push(`read:${reads.map(name).sort().join(',')}`);
    if (this.writes.size > 0) grants.push(`write:${[...this.writes.values()].map(name).sort().join(',')}`);
    if (this.ddl) grants.push('ddl');
    if (this.listens.size > 0) grants.push(`listen:${[...this.listens].map(identifier).sort().join(',')}`);
    if (this.notifies.size > 0) grants.push(`notify:${[...this.notifies].map(identifier).sort().join(',')}`);
    return grants.join(' ');
  }
}

/** A name as the scope language writes it: bare when Postgres would fold it to itself, else quoted. */
function identifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * Whether `granted` admits more than `used` needs: the agent holds rights it did not use in the
 * window (its scope can be narrowed to `used`). An empty `used` (nothing touched) makes any grant
 * of tables, ddl or channels wider.
 */
export function isWiderThanUsed(granted: string, used: string, schema: string): boolean {
  const g = parseScope(granted, schema);
  if (used === '') {
    return g.all || g.ddl || g.read.kind !== 'none' || g.write.kind !== 'none' || g.listen.kind !== 'none' || g.notify.kind !== 'none';
  }
  const u = parseScope(used, schema);
  if (g.all) return !u.all;
  return (
    widerTables(g.read, u.read) ||
    widerTables(g.write, u.write) ||
    (g.ddl && !u.ddl) ||
    widerChannels(g.listen, u.listen) ||
    widerChannels(g.notify, u.notify)
  );
}

function widerTables(g: TableGrant, u: TableGrant): boolean {
  if (g.kind === 'none') return false;
  if (g.kind === 'any') return u.kind !== 'any';
  return u.kind === 'none' || (u.kind === 'tables' && [...g.tables].some((t) => !u.tables.has(t)));
}

function widerChannels(g: ChannelGrant, u: ChannelGrant): boolean {
  if (g.kind === 'none') return false;
  if (g.kind === 'any') return u.kind !== 'any';
  return u.kind === 'none' || (u.kind === 'names' && [...g.names].some((c) => !u.names.has(c)));
}
