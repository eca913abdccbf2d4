import { UsageError } from '../idgate-error.js';
import { parseDurationMs } from '../config/duration.js';
/** A duration such as `90d`, `2h`, `30m`, `10min`, `15s`, `1w` (the configuration's grammar, duration.ts), in microseconds; undefined if it is not one. */
export function parseDurationUs(text: string): number | undefined {
  const ms = parseDurationMs(text);
  return ms === undefined ? undefined : ms * 1000;
}

/** `--since`/`--until`: a duration back from now (`2h`) or an ISO date; microseconds since the epoch. */
export function parseInstantUs(text: string, nowUs: number): number {
  const duration = parseDurationUs(text);
  if (duration !== undefined) return nowUs - duration;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError('bad-argument', `"${text}" is neither a duration (90d, 2h, 30m) nor an ISO date`);
  return ms * 1000;
}
