import { ByteReader } from './byte-reader.js';
import { Frontend, PROTOCOL_3_0, RequestCode } from './codes.js';
import { encodeMessage, encodeUntyped, type Field } from './message-writer.js';
import { ProtocolError } from './protocol-error.js';

/** A PasswordMessage body: one NUL-terminated string filling the whole body. */
export function decodePasswordMessage(body: Buffer): string {
  const r = new ByteReader(body);
  const password = r.cstring();
  if (r.remaining !== 0) throw new ProtocolError('truncated', 'password message has trailing bytes');
  return password;
}

/** Terminate: a fixed five bytes, built once. */
export const TERMINATE: Buffer = Buffer.from([Frontend.Terminate, 0, 0, 0, 4]);

/** A StartupMessage (protocol 3.0): its parameters in the order given, each a name and a value. */
export function encodeStartupMessage(parameters: Iterable<readonly [string, string]>): Buffer {
  const fields: Field[] = [{ int32: PROTOCOL_3_0 }];
  for (const [name, value] of parameters) fields.push({ cstring: name }, { cstring: value });
  fields.push({ int8: 0 });
  return encodeUntyped(fields);
}

/** SSLRequest: asks the server for TLS before the startup packet. */
export const SSL_REQUEST: Buffer = encodeUntyped([{ int32: RequestCode.SSLRequest }]);

/** A CancelRequest with a server's own key. */
export function encodeCancelRequest(processId: number, secretKey: number): Buffer {
  return encodeUntyped([{ int32: RequestCode.CancelRequest }, { int32: processId }, { int32: secretKey }]);
}

/** A PasswordMessage with a cleartext or MD5 password. */
export function encodePasswordMessage(password: string): Buffer {
  return encodeMessage(Frontend.PasswordMessage, [{ cstring: password }]);
}

/** SASLInitialResponse: the mechanism, then the client's first message with its length. */
export function encodeSaslInitialResponse(mechanism: string, data: string): Buffer {
  const bytes = Buffer.from(data, 'utf8');
  return encodeMessage(Frontend.PasswordMessage, [{ cstring: mechanism }, { int32: bytes.length }, { bytes }]);
}

/** SASLResponse: the client's next message, filling the body. */
export function encodeSaslResponse(data: string): Buffer {
  return encodeMessage(Frontend.PasswordMessage, [{ bytes: Buffer.from(data, 'utf8') }]);
}

/** A simple-protocol Query. */
export function encodeQuery(sql: string): Buffer {
  return encodeMessage(Frontend.Query, [{ cstring: sql }]);
}

/** A Query's SQL, as bytes (a view of the frame, header included at 0). */
export function decodeQuery(frame: Buffer): Buffer {
  return new ByteReader(frame, 5).cstringBytes();
}

/** A Parse: the statement's name and SQL as bytes (views of the frame), and where its parameter types begin. */
export interface ParseMessage {
  readonly name: Buffer;
  readonly sql: Buffer;
  readonly typesAt: number;
}

export function decodeParse(frame: Buffer): ParseMessage {
  const r = new ByteReader(frame, 5);
  const name = r.cstringBytes();
  const sql = r.cstringBytes();
  return { name, sql, typesAt: r.position };
}

/** A Parse's parameter type OIDs (read only by those who need them: the recorder, not the scope check). */
export function decodeParseTypes(frame: Buffer, parse: ParseMessage): number[] {
  const r = new ByteReader(frame, parse.typesAt);
  const count = r.int16();
  const types: number[] = [];
  for (let i = 0; i < count; i++) types.push(r.int32() >>> 0);
  return types;
}

/** A Parse of `sql` under a statement name (its bytes as the client sent them), naming parameter types (OIDs) or none. */
export function encodeParse(name: Uint8Array, sql: string, types: readonly number[] = []): Buffer {
  const fields: Field[] = [{ bytes: name }, { int8: 0 }, { cstring: sql }, { int16: types.length }];
  for (const t of types) fields.push({ uint32: t });
  return encodeMessage(Frontend.Parse, fields);
}

/** A Bind of the unnamed portal to the unnamed statement, each value (null: SQL NULL) in its format (1: binary), results as text. */
export function encodeBind(values: readonly { readonly bytes: Buffer | null; readonly binary: boolean }[]): Buffer {
  const fields: Field[] = [{ cstring: '' }, { cstring: '' }, { int16: values.length }];
  for (const v of values) fields.push({ int16: v.binary ? 1 : 0 });
  fields.push({ int16: values.length });
  for (const { bytes } of values) fields.push(...(bytes === null ? [{ int32: -1 }] : [{ int32: bytes.length }, { bytes }]));
  fields.push({ int16: 0 });
  return encodeMessage(Frontend.Bind, fields);
}
