import { isUtf8 } from 'node:buffer';

/** One bound value as an approval pins it: text as text, NULL as null, other bytes as base64 said which way they are read. */
export type BoundValue = string | null | { readonly base64: string } | { readonly textBase64: string };

/** What a Bind of a prepared statement runs with besides its text: the types its Parse named and the values. */
export interface BoundStatement {
  /** The parameter type OIDs the Parse named, trailing unnamed ones (0: the server infers) left off. */
  readonly types: readonly number[];
  readonly values: readonly BoundValue[];
}

/**
 * A Bind's values as an approval pins them and an approver reads them (JSON). The same bytes mean
 * different things by the type the Parse named for them (eight bytes bound in binary are one
 * bigint and another double precision) and by their format, so both are part of it: a value bound
 * in binary is `{"base64": …}`, a text value that is not UTF-8 `{"textBase64": …}`, and when the
 * Parse named types the whole is `{"types": [OID, …], "values": […]}` — without types, the array of
 * values alone. Two Binds that would run differently never read alike.
 */
export function boundValuesText(parseTypes: readonly number[], formats: readonly number[], values: readonly (Buffer | null)[]): string {
  const shown = values.map((v, i): BoundValue => {
    if (v === null) return null;
    const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
    if (binary) return { base64: v.toString('base64') };
    return isUtf8(v) ? v.toString('utf8') : { textBase64: v.toString('base64') };
  });
  const types = namedTypes(parseTypes);
  return JSON.stringify(types.length === 0 ? shown : { types, values: shown });
}

/** The types a Parse named, without the trailing zeros that name none (the server infers those as if absent). */
export function namedTypes(parseTypes: readonly number[]): number[] {
  let end = parseTypes.length;
  while (end > 0 && parseTypes[end - 1] === 0) end -= 1;
  return parseTypes.slice(0, end);
}

/** The pinned text back as types and values (for the approval's dry run), or why it cannot be read. */
export function readBoundValues(text: string): BoundStatement | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'its values could not be read';
  }
  const whole = Array.isArray(parsed) ? { types: [], values: parsed } : parsed;
  if (typeof whole !== 'object' || whole === null) return 'its values could not be read';
  const { types, values } = whole as { types?: unknown; values?: unknown };
  if (!Array.isArray(types) || !types.every((t): t is number => Number.isInteger(t) && t >= 0 && t <= 0xffffffff)) {
    return 'its parameter types could not be read';
  }
  if (!Array.isArray(values) || !values.every(isBoundValue)) return 'its values could not be read';
  return { types, values };
}

function isBoundValue(v: unknown): v is BoundValue {
  if (v === null || typeof v === 'string') return true;
  if (typeof v !== 'object') return false;
  const keys = Object.keys(v);
  const only = keys.length === 1 ? keys[0] : undefined;
  return (only === 'base64' || only === 'textBase64') && typeof (v as Record<string, unknown>)[only] === 'string';
}

/** A pinned value as a Bind carries it again: its bytes (null: SQL NULL) and whether they are in binary format. */
export function valueOnWire(v: BoundValue): { readonly bytes: Buffer | null; readonly binary: boolean } {
  if (v === null) return { bytes: null, binary: false };
  if (typeof v === 'string') return { bytes: Buffer.from(v), binary: false };
  return 'base64' in v
    ? { bytes: Buffer.from(v.base64, 'base64'), binary: true }
    : { bytes: Buffer.from(v.textBase64, 'base64'), binary: false };
}
