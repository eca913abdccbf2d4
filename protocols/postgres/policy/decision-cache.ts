import { checkScope, type ScopeDecision } from '../../../src/policy/check-scope.js';
import type { Scope } from '../../../src/policy/scope.js';
import { analyzeSqlDetailed, SqlSyntaxError } from './analyze-sql.js';

const MAX_ENTRIES = 10_000;
const ALLOWED: ScopeDecision = { allowed: true };
const cache = new Map<string, ScopeDecision>();

/**
 * A statement's verdict under a scope, parsed once per distinct statement shape: prepared
 * statements and repeated queries cost a map lookup after the first time, and so do simple queries
 * that differ only in numbers (`WHERE aid = 12345`), unless the verdict looked at a constant's
 * value, which is then remembered for that exact text only. SQL that does not parse is let
 * through: Postgres refuses it itself, with its own syntax error.
 */
export function decide(scope: Scope, schema: string, sql: string): ScopeDecision {
  const prefix = `${scope.text}\u0000${schema}\u0000`;
  const exact = `${prefix}${sql}`;
  const shape = shapeOf(sql);
  const shapeKey = shape === undefined ? undefined : `${prefix}\u0001${shape}`;
  const hit = cache.get(exact) ?? (shapeKey === undefined ? undefined : cache.get(shapeKey));
  if (hit !== undefined) return hit;
  let decision: ScopeDecision;
  let dependsOnConstants = true;
  try {
    const analysis = analyzeSqlDetailed(sql, schema);
    decision = checkScope(scope, analysis.accesses);
    dependsOnConstants = analysis.dependsOnConstants;
  } catch (e) {
    if (!(e instanceof SqlSyntaxError)) throw e;
    decision = ALLOWED;
  }
  remember(dependsOnConstants || shapeKey === undefined ? exact : shapeKey, decision);
  return decision;
}

function remember(key: string, decision: ScopeDecision): void {
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value ?? '');
  cache.set(key, decision);
}

/**
 * The text with every number outside quotes and comments replaced by 0, or undefined when the
 * text has what a simple scan could misread (backslash escapes, E'' strings, dollar quotes).
 */
function shapeOf(sql: string): string | undefined {
  if (/[\\$]|\b[eE]'/.test(sql)) return undefined;
  return sql.replace(/("(?:[^"]|"")*")|('(?:[^']|'')*')|(--[^\n]*)|(\/\*[\s\S]*?\*\/)|\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/g, (match, quoted, string, line, block) =>
    quoted !== undefined || string !== undefined || line !== undefined || block !== undefined ? match : '0',
  );
}
