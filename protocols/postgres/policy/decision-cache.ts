import { checkScope, type ScopeDecision } from '../../../src/policy/check-scope.js';
import type { Scope } from '../../../src/policy/scope.js';
import { analyzeSql, SqlSyntaxError } from './analyze-sql.js';

const MAX_ENTRIES = 10_000;
const ALLOWED: ScopeDecision = { allowed: true };
const cache = new Map<string, ScopeDecision>();

/**
 * A statement's verdict under a scope, parsed once per distinct text: prepared statements and
 * repeated queries cost a map lookup after the first time. SQL that does not parse is let through:
 * Postgres refuses it itself, with its own syntax error.
 */
export function decide(scope: Scope, schema: string, sql: string): ScopeDecision {
  const key = `${scope.text}\u0000${schema}\u0000${sql}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let decision: ScopeDecision;
  try {
    decision = checkScope(scope, analyzeSql(sql, schema));
  } catch (e) {
    if (!(e instanceof SqlSyntaxError)) throw e;
    decision = ALLOWED;
  }
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value ?? '');
  cache.set(key, decision);
  return decision;
}
