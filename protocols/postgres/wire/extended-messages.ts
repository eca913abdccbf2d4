import { ByteReader } from './byte-reader.js';

/**
 * Decoders of the extended-protocol and fast-path messages a client sends, each from the whole
 * frame (its five header bytes included). Strings come as the client's bytes decoded as UTF-8 (for
 * the audit log's labels); values as views of the frame, never copies.
 */

/** A Bind: which portal from which statement, each parameter's format and value (null: SQL NULL), the result formats. */
export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** As sent: none (all text), one (for all) or one per parameter; 1 is binary. */
  readonly parameterFormats: readonly number[];
  readonly values: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
}

export function decodeBind(frame: Buffer): BindMessage {
  const r = new ByteReader(frame, 5);
  const portal = r.cstring();
  const statement = r.cstring();
  const parameterFormats = int16List(r);
  const values = r.values();
  return { portal, statement, parameterFormats, values, resultFormats: int16List(r) };
}

/** An Execute: the portal and the most rows to return (0: all). */
export function decodeExecute(frame: Buffer): { readonly portal: string; readonly maxRows: number } {
  const r = new ByteReader(frame, 5);
  return { portal: r.cstring(), maxRows: r.int32() };
}

/** A Describe or Close: of a prepared statement ('S') or a portal ('P'), by name. */
export interface TargetMessage {
  readonly target: 'statement' | 'portal';
  readonly name: string;
}

export function decodeDescribeOrClose(frame: Buffer): TargetMessage {
  const r = new ByteReader(frame, 5);
  const target = r.bytes(1)[0] === 0x53 ? 'statement' : 'portal';
  return { target, name: r.cstring() };
}

/** A fast-path FunctionCall: the function's OID, the argument formats and values, the result's format. */
export interface FunctionCallMessage {
  readonly functionOid: number;
  readonly argumentFormats: readonly number[];
  readonly values: readonly (Buffer | null)[];
  readonly resultFormat: number;
}

export function decodeFunctionCall(frame: Buffer): FunctionCallMessage {
  const r = new ByteReader(frame, 5);
  const functionOid = r.int32() >>> 0;
  const argumentFormats = int16List(r);
  const values = r.values();
  return { functionOid, argumentFormats, values, resultFormat: r.int16() };
}

/** A CopyFail: the client's reason. */
export function decodeCopyFail(frame: Buffer): string {
  return new ByteReader(frame, 5).cstring();
}

/** Whether value `i` is binary, under a format list as Bind and FunctionCall send it. */
export function isBinaryFormat(formats: readonly number[], i: number): boolean {
  return (formats.length === 1 ? formats[0] : formats[i]) === 1;
}

function int16List(r: ByteReader): number[] {
  const count = r.int16();
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(r.int16());
  return values;
}
