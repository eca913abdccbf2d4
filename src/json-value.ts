/**
 * Reading values out of parsed JSON (recorded event data, the Postgres parser's syntax tree) as
 * text without ever printing `[object Object]`: a string as itself, a number or boolean as
 * `String()` writes it, anything else as the fallback.
 */
export function textOf(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return fallback;
}

/** An array as itself, anything else as no elements. */
export function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}
