import { ByteReader } from './byte-reader.js';
import { AuthRequest, Backend } from './codes.js';
import { encodeMessage, type Field } from './message-writer.js';

/** The fields of an ErrorResponse or NoticeResponse that the gateway itself emits. */
export interface ErrorFields {
  readonly severity: 'FATAL' | 'ERROR' | 'WARNING' | 'NOTICE';
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the statement (P), as Postgres reports a syntax error's place. */
  readonly position?: number;
}

export function encodeErrorResponse(e: ErrorFields): Buffer {
  return encodeMessage(Backend.ErrorResponse, errorFields(e));
}

/** A NoticeResponse (severity WARNING or NOTICE): the same fields as an error, and the client carries on. */
export function encodeNoticeResponse(e: ErrorFields): Buffer {
  return encodeMessage(Backend.NoticeResponse, errorFields(e));
}

function errorFields(e: ErrorFields): Field[] {
  const fields: Field[] = [
    { int8: 0x53 },
    { cstring: e.severity }, // S: localized severity
    { int8: 0x56 },
    { cstring: e.severity }, // V: non-localized severity
    { int8: 0x43 },
    { cstring: e.sqlstate }, // C
    { int8: 0x4d },
    { cstring: e.message }, // M
  ];
  if (e.detail !== undefined) fields.push({ int8: 0x44 }, { cstring: e.detail });
  if (e.hint !== undefined) fields.push({ int8: 0x48 }, { cstring: e.hint });
  if (e.position !== undefined) fields.push({ int8: 0x50 }, { cstring: String(e.position) });
  fields.push({ int8: 0 });
  return fields;
}

export const AUTHENTICATION_CLEARTEXT_PASSWORD: Buffer = encodeMessage(Backend.Authentication, [{ int32: AuthRequest.CleartextPassword }]);

export const AUTHENTICATION_OK: Buffer = encodeMessage(Backend.Authentication, [{ int32: AuthRequest.Ok }]);

export function encodeBackendKeyData(processId: number, secretKey: number): Buffer {
  return encodeMessage(Backend.BackendKeyData, [{ int32: processId }, { int32: secretKey }]);
}

/** Tells the client the newest minor version we speak and which `_pq_.` options we did not recognise. */
export function encodeNegotiateProtocolVersion(newestMinor: number, unrecognised: readonly string[]): Buffer {
  return encodeMessage(Backend.NegotiateProtocolVersion, [
    { int32: newestMinor },
    { int32: unrecognised.length },
    ...unrecognised.map((o) => ({ cstring: o })),
  ]);
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  return encodeMessage(Backend.ParameterStatus, [{ cstring: name }, { cstring: value }]);
}

export type TransactionStatus = 'I' | 'T' | 'E';

export function encodeReadyForQuery(status: TransactionStatus): Buffer {
  return encodeMessage(Backend.ReadyForQuery, [{ int8: status.charCodeAt(0) }]);
}

/** A ParameterStatus body: the setting's name and its value. */
export function decodeParameterStatus(body: Buffer, start = 0): { readonly name: string; readonly value: string } {
  const r = new ByteReader(body, start);
  return { name: r.cstring(), value: r.cstring() };
}

/** A BackendKeyData body: the server's process id and secret key. */
export function decodeBackendKeyData(body: Buffer): { readonly processId: number; readonly secretKey: number } {
  const r = new ByteReader(body);
  return { processId: r.int32(), secretKey: r.int32() };
}

/** A CommandComplete's tag (`INSERT 0 1`, `SELECT 5`, …). */
export function decodeCommandComplete(message: Buffer, start = 0): string {
  return new ByteReader(message, start).cstring();
}

/** A DataRow's column values, as views of the message (null: SQL NULL). */
export function decodeDataRow(message: Buffer, start = 0): (Buffer | null)[] {
  return new ByteReader(message, start).values();
}

/** A ReadyForQuery's transaction status byte, as a letter ('I', 'T', 'E' from a sound server). */
export function decodeReadyForQuery(message: Buffer, start = 0): string {
  return String.fromCharCode(new ByteReader(message, start).bytes(1)[0] ?? 0);
}

/** What an Authentication message asks of the client, with what that request carries. */
export type AuthenticationRequest =
  | { readonly request: typeof AuthRequest.Ok | typeof AuthRequest.CleartextPassword }
  | { readonly request: typeof AuthRequest.MD5Password; readonly salt: Buffer }
  | { readonly request: typeof AuthRequest.SASL; readonly mechanisms: readonly string[] }
  | { readonly request: typeof AuthRequest.SASLContinue | typeof AuthRequest.SASLFinal; readonly data: string }
  | { readonly request: 'unsupported'; readonly code: number };

export function decodeAuthentication(body: Buffer): AuthenticationRequest {
  const r = new ByteReader(body);
  const request = r.int32();
  switch (request) {
    case AuthRequest.Ok:
    case AuthRequest.CleartextPassword:
      return { request };
    case AuthRequest.MD5Password:
      return { request, salt: r.bytes(4) };
    case AuthRequest.SASL: {
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
      return { request, mechanisms };
    }
    case AuthRequest.SASLContinue:
    case AuthRequest.SASLFinal:
      return { request, data: r.bytes(r.remaining).toString('utf8') };
    default:
      return { request: 'unsupported', code: request };
  }
}
