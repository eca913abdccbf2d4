import { ByteReader } from './byte-reader.js';
import { Frontend } from './codes.js';
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
