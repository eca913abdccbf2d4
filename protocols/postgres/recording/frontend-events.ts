import { Frontend } from '../wire/codes.js';
import {
  decodeBind,
  decodeCopyFail,
  decodeDescribeOrClose,
  decodeExecute,
  decodeFunctionCall,
  isBinaryFormat,
} from '../wire/extended-messages.js';
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
  switch (code) {
    case Frontend.Query:
      return { kind: 'Query', data: { sql: decodeQuery(frame).toString('utf8') } };
    case Frontend.Parse:
      return parseEvent(frame, types);
    case Frontend.Bind:
      return bindEvent(frame, types);
    case Frontend.Execute:
      return { kind: 'Execute', data: { ...decodeExecute(frame) } };
    case Frontend.Describe:
    case Frontend.Close:
      return targetEvent(code, frame, types);
    case Frontend.Sync:
      return { kind: 'Sync', data: {} };
    case Frontend.Flush:
      return { kind: 'Flush', data: {} };
    case Frontend.FunctionCall:
      return functionCallEvent(frame);
    case Frontend.CopyData:
      return {
        kind: 'CopyData',
        data: full ? { bytes: frame.length - 5, data: frame.subarray(5).toString('base64') } : { bytes: frame.length - 5 },
      };
    case Frontend.CopyDone:
      return { kind: 'CopyDone', data: {} };
    case Frontend.CopyFail:
      return { kind: 'CopyFail', data: { message: decodeCopyFail(frame) } };
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

function bindEvent(frame: Buffer, types: StatementTypes): DecodedEvent {
  const bind = decodeBind(frame);
  const paramTypes = types.get(bind.statement);
  const params = bind.values.map((value, i) => recordedValue(value, isBinaryFormat(bind.parameterFormats, i), paramTypes[i] ?? 0));
  return { kind: 'Bind', data: { portal: bind.portal, statement: bind.statement, params, resultFormats: bind.resultFormats } };
}

function targetEvent(code: number, frame: Buffer, types: StatementTypes): DecodedEvent {
  const { target, name } = decodeDescribeOrClose(frame);
  if (code === Frontend.Close && target === 'statement') types.delete(name);
  return { kind: code === Frontend.Close ? 'Close' : 'Describe', data: { [target]: name } };
}

function functionCallEvent(frame: Buffer): DecodedEvent {
  const call = decodeFunctionCall(frame);
  const args = call.values.map((value, i) => recordedValue(value, isBinaryFormat(call.argumentFormats, i), 0));
  return { kind: 'FunctionCall', data: { functionOid: call.functionOid, args, resultFormat: call.resultFormat } };
}

function recordedValue(value: Buffer | null, binary: boolean, type: number): RecordedValue {
  if (value === null) return null;
  return binary ? { binary: value.toString('base64'), type } : { text: value.toString('utf8') };
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
