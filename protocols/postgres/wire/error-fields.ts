import { ByteReader } from './byte-reader.js';

/** The fields of an ErrorResponse/NoticeResponse body, keyed by their one-letter type ('C', 'M', …). */
export function decodeErrorFields(body: Buffer): Map<string, string> {
  const r = new ByteReader(body);
  const fields = new Map<string, string>();
  while (r.remaining > 0) {
    const type = r.bytes(1)[0] ?? 0;
    if (type === 0) break;
    fields.set(String.fromCharCode(type), r.cstring());
  }
  return fields;
}
