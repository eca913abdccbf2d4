/**
 * The one duration grammar of the configuration and the command line: a number with a unit —
 * `ms`, `s`, `m` or `min` (minutes, Postgres's spelling and the short one), `h`, `d`, `w` — as
 * `250ms`, `30s`, `10m`, `10min`, `2h`, `90d`, `12w`.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const DURATION_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|w)\s*$/;

/** Explains the grammar in a message about a value that does not follow it. */
export const DURATION_HINT = 'a number with ms, s, m (or min), h, d or w, as 30s, 10m or 90d';

/** The duration in milliseconds, or undefined when `text` is not one. */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000));
}
