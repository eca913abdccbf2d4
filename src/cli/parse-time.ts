import { UsageError } from '../idgate-error.js';
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A duration such as `90d`, `2h`, `30m`, `15s`, `1w`, in microseconds; undefined if it is not one. */
export function parseDurationUs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1) * 1_000_000);
}

/** `--since`/`--until`: a duration back from now (`2h`) or an ISO date; microseconds since the epoch. */
export function parseInstantUs(text: string, nowUs: number): number {
  const duration = parseDurationUs(text);
  if (duration !== undefined) return nowUs - duration;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError('bad-argument', `"${text}" is neither a duration (90d, 2h, 30m) nor an ISO date`);
  return ms * 1000;
}
