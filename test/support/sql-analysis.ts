import { NO_SHADOWS } from '../../protocols/postgres/policy/shadowed-builtins.js';
import type { AnalysisContext } from '../../protocols/postgres/policy/analysis-context.js';
import { sqlParserFor } from '../../protocols/postgres/policy/sql-parser.js';

/** The PostgreSQL major version of the test clusters: statements are analysed with its grammar. */
export const TEST_SERVER_MAJOR = 15;

/** An analysis context as a session against the test cluster gets it. */
export async function analysisContext(schema = 'public', major = TEST_SERVER_MAJOR): Promise<AnalysisContext> {
  const parser = sqlParserFor(major);
  if (parser === undefined) throw new Error(`no parser for PostgreSQL ${major}`);
  return { parser: await parser, schema, asciiNamesOnly: false, managedSettings: new Set<string>(), shadowed: NO_SHADOWS };
}
