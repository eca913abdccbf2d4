import { ByteReader } from '../wire/byte-reader.js';
import { Frontend } from '../wire/codes.js';
import { decodeParse, decodeParseTypes, decodeQuery } from '../wire/frontend-messages.js';

export interface DecodedEvent {
  readonly kind: string;
  readonly data: Record<string, unknown>;
}

/** A Bind or FunctionCall argument as recorded: text as text, binary as base64 with its type OID. */
export type RecordedValue = null | { readonly text: string } | { readonly binary: string; readonly type: number };

/** What a session's recorder remembers between frames: the parameter types each statement was prepared with. */
export class StatementTypes {
  private readonly types = new Map<string, readonly number[]>();
  set(statement: string, types: readonly number[]): void {
    this.types.set(statement, types);
  }
  get(statement: string): readonly number[] {
    return this.types.get(statement) ?? [];
  }
  delete(statement: string): void {
    this.types.delete(statement);
  }
}

/**
 * Decodes one client frame into the event the audit log keeps. Message names are PostgreSQL's.
 * The body is read only as far as the audit needs; nothing here changes the bytes relayed.
 */
export function decodeFrontendFrame(
  code: number,
  frame: Buffer | undefined,
  length: number,
  types: StatementTypes,
  full: boolean,
): DecodedEvent {
  if (frame === undefined) return { kind: frontendName(code), data: { bytes: length - 4 } };
  const r = new ByteReader(frame, 5);
  switch (code) {
    case Frontend.Query:
      return { kind: 'Query', data: { sql: decodeQuery(frame).toString('utf8') } };
    case Frontend.Parse:
      return parseEvent(frame, types);
    case Frontend.Bind:
      return decodeBind(r, types);
    case Frontend.Execute:
      return { kind: 'Execute', data: { portal: r.cstring(), maxRows: r.int32() } };
    case Frontend.Describe:
    case Frontend.Close:
      return decodeTarget(code, r, types);
    case Frontend.Sync:
      return { kind: 'Sync', data: {} };
    case Frontend.Flush:
      return { kind: 'Flush', data: {} };
    case Frontend.FunctionCall:
      return decodeFunctionCall(r);
    case Frontend.CopyData:
      return {
        kind: 'CopyData',
        data: full ? { bytes: r.remaining, data: r.bytes(r.remaining).toString('base64') } : { bytes: r.remaining },
      };
    case Frontend.CopyDone:
      return { kind: 'CopyDone', data: {} };
    case Frontend.CopyFail:
      return { kind: 'CopyFail', data: { message: r.cstring() } };
    case Frontend.Terminate:
      return { kind: 'Terminate', data: {} };
    default:
      // Never the content: an unexpected PasswordMessage after login could hold a secret.
      return { kind: frontendName(code), data: { bytes: length - 4 } };
  }
}

function parseEvent(frame: Buffer, types: StatementTypes): DecodedEvent {
  const parse = decodeParse(frame);
  const statement = parse.name.toString('utf8');
  const sql = parse.sql.toString('utf8');
  const paramTypes = decodeParseTypes(frame, parse);
  types.set(statement, paramTypes);
  return { kind: 'Parse', data: { statement, sql, paramTypes } };
}

function decodeBind(r: ByteReader, types: StatementTypes): DecodedEvent {
  const portal = r.cstring();
  const statement = r.cstring();
  const formats = readInt16s(r);
  const paramCount = r.int16();
  const paramTypes = types.get(statement);
  const params: RecordedValue[] = [];
  for (let i = 0; i < paramCount; i++) {
    const binary = (formats.length === 1 ? formats[0] : formats[i]) === 1;
    params.push(readValue(r, binary, paramTypes[i] ?? 0));
  }
  const resultFormats = readInt16s(r);
  return { kind: 'Bind', data: { portal, statement, params, resultFormats } };
}

function decodeTarget(code: number, r: ByteReader, types: StatementTypes): DecodedEvent {
  const which = r.bytes(1)[0] === 0x53 ? 'statement' : 'portal';
  const name = r.cstring();
  if (code === Frontend.Close && which === 'statement') types.delete(name);
  return { kind: code === Frontend.Close ? 'Close' : 'Describe', data: { [which]: name } };
}

function decodeFunctionCall(r: ByteReader): DecodedEvent {
  const functionOid = r.int32() >>> 0;
  const formats = readInt16s(r);
  const count = r.int16();
  const args: RecordedValue[] = [];
  for (let i = 0; i < count; i++) args.push(readValue(r, (formats.length === 1 ? formats[0] : formats[i]) === 1, 0));
  return { kind: 'FunctionCall', data: { functionOid, args, resultFormat: r.int16() } };
}

function readInt16s(r: ByteReader): number[] {
  const count = r.int16();
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(r.int16());
  return values;
}

function readValue(r: ByteReader, binary: boolean, type: number): RecordedValue {
  const length = r.int32();
  if (length === -1) return null;
  const bytes = r.bytes(length);
  return binary ? { binary: bytes.toString('base64'), type } : { text: bytes.toString('utf8') };
}

const NAMES = new Map<number, string>([
  [Frontend.Query, 'Query'],
  [Frontend.Parse, 'Parse'],
  [Frontend.Bind, 'Bind'],
  [Frontend.Execute, 'Execute'],
  [Frontend.Describe, 'Describe'],
  [Frontend.Close, 'Close'],
  [Frontend.Sync, 'Sync'],
  [Frontend.Flush, 'Flush'],
  [Frontend.FunctionCall, 'FunctionCall'],
  [Frontend.CopyData, 'CopyData'],
  [Frontend.CopyDone, 'CopyDone'],
  [Frontend.CopyFail, 'CopyFail'],
  [Frontend.Terminate, 'Terminate'],
  [Frontend.PasswordMessage, 'PasswordMessage'],
]);

function frontendName(code: number): string {
  return NAMES.get(code) ?? `Unknown(${String.fromCharCode(code)})`;
}
