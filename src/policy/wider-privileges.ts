import type { MappingRule } from '../config/gateway-config.js';
import { covers, parseScope, type Scope } from '../config/scope.js';

/** One privilege the upstream role holds, as the database reports it. */
export interface Privilege {
  readonly schema: string;
  readonly table: string;
  /** SELECT, INSERT, UPDATE, DELETE, TRUNCATE, … */
  readonly privilege: string;
}

export interface RolePowers {
  readonly superuser: boolean;
  /** Schemas the role may create objects in. */
  readonly createIn: readonly string[];
  readonly privileges: readonly Privilege[];
}

const WRITE_PRIVILEGES = new Set(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']);

/**
 * What the upstream role may do that no scope mapped to its connection grants: the database's
 * grants are the hard boundary, so a role wider than its scopes leaves the scope as the only fence.
 */
export function widerThanScopes(powers: RolePowers, rules: readonly MappingRule[], searchPath = 'public'): string[] {
  const scopes = rules.map((r) => parseScope(r.scope, searchPath));
  if (scopes.some((s) => s.all)) return [];
  const warnings: string[] = [];
  if (powers.superuser) warnings.push('the role is a superuser');
  if (!scopes.some((s) => s.ddl)) {
    for (const schema of powers.createIn) warnings.push(`the role may create objects in schema ${schema}, but no scope grants ddl`);
  }
  const anyScope = (test: (s: Scope) => boolean): boolean => scopes.some(test);
  for (const p of powers.privileges) {
    const table = { schema: p.schema, table: p.table };
    const name = `${p.schema}.${p.table}`;
    if (WRITE_PRIVILEGES.has(p.privilege) && !anyScope((s) => covers(s.write, table))) {
      warnings.push(`the role may ${p.privilege} ${name}, which no scope lets it write`);
    } else if (p.privilege === 'SELECT' && !anyScope((s) => covers(s.read, table) || covers(s.write, table))) {
      warnings.push(`the role may SELECT ${name}, which no scope lets it read`);
    }
  }
  return warnings;
}
