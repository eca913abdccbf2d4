import { NO_SHADOWS } from './shadowed-builtins.js';
import type { Access } from '../../../src/policy/access.js';
import { analyzeSql } from './analyze-sql.js';
import { sqlParserFor } from './sql-parser.js';
import { InvariantError } from '../../../src/idgate-error.js';

/**
 * What recorded statements needed, read by the same analysis the gateway enforces with, using the
 * parser of `major` (the newest by default: the server's version is not recorded). A statement it
 * cannot analyse is counted, not guessed at.
 */
export async function accessesOfStatements(
  statements: readonly string[],
  schema: string,
  major = 18,
): Promise<{ accesses: Access[][]; unanalysable: number }> {
  const parser = await sqlParserFor(major);
  if (parser === undefined) throw new InvariantError(`no SQL parser for PostgreSQL ${major}`);
  const accesses: Access[][] = [];
  let unanalysable = 0;
  for (const sql of statements) {
    try {
      accesses.push(
        analyzeSql(sql, { parser, schema, asciiNamesOnly: false, managedSettings: new Set<string>(), shadowed: NO_SHADOWS }).accesses,
      );
    } catch {
      unanalysable += 1;
    }
  }
  return { accesses, unanalysable };
}
