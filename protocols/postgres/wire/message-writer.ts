/**
 * Builds one backend or frontend message. Computes the size first so each message is a single
 * allocation with its length written once.
 */
export type Field =
  | { readonly int8: number }
  | { readonly int16: number }
  | { readonly int32: number }
  | { readonly uint32: number }
  | { readonly cstring: string }
  | { readonly bytes: Uint8Array };

function fieldSize(f: Field): number {
  if ('int8' in f) return 1;
  if ('int16' in f) return 2;
  if ('int32' in f || 'uint32' in f) return 4;
  if ('cstring' in f) return Buffer.byteLength(f.cstring) + 1;
  return f.bytes.length;
}

function writeField(buf: Buffer, at: number, f: Field): number {
  if ('int8' in f) return buf.writeUInt8(f.int8, at);
  if ('int16' in f) return buf.writeInt16BE(f.int16, at);
  if ('int32' in f) return buf.writeInt32BE(f.int32, at);
  if ('uint32' in f) return buf.writeUInt32BE(f.uint32, at);
  if ('cstring' in f) {
    const n = buf.write(f.cstring, at, 'utf8');
    buf[at + n] = 0;
    return at + n + 1;
  }
  buf.set(f.bytes, at);
  return at + f.bytes.length;
}

/** A typed message: one code byte, an int32 length that counts itself, then the fields. */
export function encodeMessage(code: number, fields: readonly Field[]): Buffer {
  let size = 4;
  for (const f of fields) size += fieldSize(f);
  const buf = Buffer.allocUnsafe(size + 1);
  buf[0] = code;
  buf.writeInt32BE(size, 1);
  let at = 5;
  for (const f of fields) at = writeField(buf, at, f);
  return buf;
}

/** An untyped message (StartupMessage, SSLRequest, CancelRequest): length then fields. */
export function encodeUntyped(fields: readonly Field[]): Buffer {
  let size = 4;
  for (const f of fields) size += fieldSize(f);
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(size, 0);
  let at = 4;
  for (const f of fields) at = writeField(buf, at, f);
  return buf;
}
