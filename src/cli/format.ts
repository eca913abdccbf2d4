import stringWidth from 'string-width';
import { oneLine } from './output.js';

/** Helpers for the DBA commands' human output. */

export function isoFromUs(us: number | null): string {
  return us === null ? '' : new Date(Math.floor(us / 1000)).toISOString();
}

export function durationText(us: number | null): string {
  if (us === null) return '';
  if (us < 1000) return `${us} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** Columns are never cut narrower than this to fit a terminal. */
const MIN_COLUMN = 8;

/**
 * A plain text table: each cell on its line (line breaks and control characters shown as escapes),
 * columns padded to their widest cell as the terminal shows it (a CJK character or an emoji takes
 * two columns). With `width` (a terminal's, by default when stdout is one), the widest columns are
 * cut, with `…`, until a row fits; piped output is never cut.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  width: number | undefined = process.stdout.isTTY ? process.stdout.columns : undefined,
): string {
  const cells = [header, ...rows].map((r) => header.map((_, i) => oneLine(r[i] ?? '')));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i] ?? ''))));
  if (width !== undefined) fitWidths(widths, width - 2 * (widths.length - 1));
  const line = (row: readonly string[]): string =>
    row
      .map((c, i) => fit(c, widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const [head = [], ...body] = cells;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Narrows the widest column, one column of text at a time, until all fit in `room`. */
function fitWidths(widths: number[], room: number): void {
  let total = widths.reduce((a, b) => a + b, 0);
  while (total > room) {
    const widest = widths.indexOf(Math.max(...widths));
    if ((widths[widest] ?? 0) <= MIN_COLUMN) return;
    widths[widest] = (widths[widest] ?? 0) - 1;
    total -= 1;
  }
}

/** `cell` padded to `width` terminal columns, or cut to it with `…`. */
function fit(cell: string, width: number): string {
  const shown = stringWidth(cell);
  if (shown <= width) return cell + ' '.repeat(width - shown);
  let cut = '';
  for (const char of cell) {
    if (stringWidth(cut + char) > width - 1) break;
    cut += char;
  }
  return `${cut}…${' '.repeat(Math.max(0, width - 1 - stringWidth(cut)))}`;
}
