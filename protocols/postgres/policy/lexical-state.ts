/**
 * The settings that decide how the server cuts statement text into tokens, pinned for every
 * session whose scope is parsed. The gateway decodes a statement as strict UTF-8 and parses it as
 * a server with `standard_conforming_strings = on` would; the server must read the same bytes the
 * same way, so these settings are sent upstream at login, may not be changed to anything else, and
 * are watched in the server's own ParameterStatus reports.
 *
 * Why refuse rather than transcode: in BIG5, SJIS, GBK, UHC, GB18030 and JOHAB a multibyte
 * character may end in the byte of `\` or `'`, and the server's conversion tables are not
 * reproducible byte for byte in JavaScript; with `standard_conforming_strings = off`, `\'` ends a
 * quote for the server but not for a parser that assumes it on. One reading, enforced, is sound;
 * two readings kept in sync are a bet.
 */

/** The lexical settings and the one value each may have under a parsed scope (as the server reports it). */
export const PINNED_LEXICAL = new Map([
  ['client_encoding', 'UTF8'],
  ['standard_conforming_strings', 'on'],
]);

export function isLexicalSetting(name: string): boolean {
  return PINNED_LEXICAL.has(name.toLowerCase());
}

/** Whether `value` is a value the server would take as the pinned one for `name` (case and spelling as the server accepts them). */
export function isPinnedValue(name: string, value: string): boolean {
  switch (name.toLowerCase()) {
    case 'client_encoding':
      return isUtf8Name(value);
    case 'standard_conforming_strings':
      return parsesAsTrue(value);
    default:
      return true;
  }
}

/**
 * Postgres looks an encoding name up after dropping every character that is not a letter or digit
 * and folding case (`clean_encoding_name`): `UTF-8`, `utf_8` and `Unicode` all name UTF8.
 */
function isUtf8Name(value: string): boolean {
  const clean = value.replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  return clean === 'utf8' || clean === 'unicode';
}

/** Postgres's `parse_bool`: a case-insensitive prefix of true or yes, exactly on, or 1. */
function parsesAsTrue(value: string): boolean {
  const v = value.toLowerCase();
  if (v === '') return false;
  return 'true'.startsWith(v) || 'yes'.startsWith(v) || v === 'on' || v === '1';
}

/**
 * What is wrong with a value the server reported for a lexical setting, or undefined when it is
 * the pinned one. The server's report is authoritative: anything else means the gateway's reading
 * of the session's statements can no longer be trusted.
 */
export function reportedLexicalProblem(name: string, value: string): string | undefined {
  const pinned = PINNED_LEXICAL.get(name.toLowerCase());
  if (pinned === undefined || isPinnedValue(name, value)) return undefined;
  return `the server reports ${name} = ${value}, but statements under this scope are analysed as ${pinned}`;
}
