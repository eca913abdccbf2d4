import { AccessError } from '../../../src/access-error.js';
import type { AnalysisContext } from './analysis-context.js';
import { isLexicalSetting, isPinnedValue, PINNED_LEXICAL, reportedLexicalProblem } from './lexical-state.js';
import { NO_SHADOWS } from './shadowed-builtins.js';
import { majorVersionOf, sqlParserFor, SUPPORTED_MAJORS } from './sql-parser.js';

/**
 * Refuses, before anything goes upstream, a client that asks for a lexical setting the analysis
 * does not model (`client_encoding=SJIS`, `-c standard_conforming_strings=off`).
 */
export function checkClientLexicalSettings(settings: readonly (readonly [string, string])[]): void {
  for (const [name, value] of settings) {
    if (isLexicalSetting(name) && !isPinnedValue(name, value) && !isPlainBytes(name, value)) {
      throw new AccessError(
        'scope-unsupported',
        `${name} ${value} is not supported under a parsed scope: statements are analysed with client_encoding UTF8 and standard_conforming_strings on`,
      );
    }
  }
}

/**
 * psql in a C locale asks for SQL_ASCII ("no conversion"). The session runs with UTF8 upstream
 * all the same, which converts nothing from a UTF8 database either: the client gets the bytes it
 * would have got, and the server reads statements as the gateway does.
 */
function isPlainBytes(name: string, value: string): boolean {
  return name === 'client_encoding' && value.replace(/[^A-Za-z0-9]/g, '').toLowerCase() === 'sqlascii';
}

/** The settings a scoped session's upstream starts with, so that the server reads statements as the gateway does. */
export function pinnedStartupSettings(): ReadonlyMap<string, string> {
  return PINNED_LEXICAL;
}

/**
 * What the analysis of this session's statements needs, from what the upstream reported at login:
 * the parser of its major version, and whether its encoding keeps names byte-identical (the
 * overloads of built-in names are read from the upstream after it: read-shadowed-builtins.ts). Refuses a
 * server the gateway has no parser for, or one that did not take the pinned lexical settings.
 */
export async function analysisContextFor(
  reported: ReadonlyMap<string, string>,
  schema: string,
  managedSettings: ReadonlySet<string> = new Set(),
): Promise<AnalysisContext> {
  const version = reported.get('server_version') ?? '';
  const major = majorVersionOf(version);
  const parser = major === undefined ? undefined : sqlParserFor(major);
  if (parser === undefined) {
    throw new AccessError(
      'scope-unsupported',
      `scoped sessions need PostgreSQL ${SUPPORTED_MAJORS.join(', ')}; the upstream runs ${version || 'an unknown version'}`,
    );
  }
  for (const name of PINNED_LEXICAL.keys()) {
    const problem = reportedLexicalProblem(name, reported.get(name) ?? '(not reported)');
    if (problem !== undefined) throw new AccessError('scope-unsupported', `the upstream session cannot be scoped: ${problem}`);
  }
  const encoding = (reported.get('server_encoding') ?? '').toUpperCase();
  return { parser: await parser, schema, asciiNamesOnly: encoding !== 'UTF8', managedSettings, shadowed: NO_SHADOWS };
}
