/**
 * Everything the CLI prints goes through here. What it prints is largely written by others — an
 * agent's SQL and its startup label, the server's messages, a node's rows in a central store — and
 * a terminal acts on some characters: escape sequences can erase or rewrite lines, set the title,
 * or hide text; bidirectional overrides can show text in another order than it is. A DBA reading
 * `show` must see what the agent sent, not what it wanted shown, so each such character is printed
 * as a visible `\uXXXX` escape. In JSON output that is the same string (JSON decodes the escape
 * back to the character), so `--json` stays exact.
 */
// C0 controls but newline, DEL and the C1 controls, the bidirectional marks, embeddings,
// overrides and isolates, and the line and paragraph separators.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTED_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ACTED_ON_OR_NEWLINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escaped(char: string): string {
  return `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}

/** `text` as a terminal will show it, character for character (its own line breaks kept). */
export function terminalSafe(text: string): string {
  return text.replace(ACTED_ON, escaped);
}

/**
 * A value that must stay on its line (a table cell, a field of a line): its line breaks are shown
 * as escapes too, so no value can start a line that looks like the tool's own.
 */
export function oneLine(value: string): string {
  return value.replace(ACTED_ON_OR_NEWLINE, escaped);
}

/** Writes to stdout; false when the stream asks the writer to wait for 'drain'. */
export function out(text: string): boolean {
  return process.stdout.write(terminalSafe(text));
}

export function err(text: string): boolean {
  return process.stderr.write(terminalSafe(text));
}

/** The one escape sequence the CLI sends on purpose: `status --watch` clearing the screen. */
export function clearScreen(): void {
  process.stdout.write('\x1b[2J\x1b[H');
}
