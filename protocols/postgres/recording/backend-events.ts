import { isUtf8 } from 'node:buffer';
import { ByteReader } from '../wire/byte-reader.js';
import { Backend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import type { DecodedEvent } from './frontend-events.js';

export interface DecodedOutcome extends DecodedEvent {
  readonly outcome?: 'ok' | 'error';
}

const COUNTED = new Set(['INSERT', 'UPDATE', 'DELETE', 'SELECT', 'MOVE', 'FETCH', 'COPY', 'MERGE']);

/** The server's side of a statement, as recorded: its tag and row count, its error, its notices. */
export function decodeBackendFrame(code: number, frame: Buffer): DecodedOutcome | undefined {
  const r = new ByteReader(frame, 5);
  switch (code) {
    case Backend.CommandComplete: {
      const tag = r.cstring();
      const words = tag.split(' ');
      const rows = COUNTED.has(words[0] ?? '') ? Number(words.at(-1)) : undefined;
      return { kind: 'CommandComplete', data: rows === undefined || Number.isNaN(rows) ? { tag } : { tag, rows }, outcome: 'ok' };
    }
    case Backend.ErrorResponse:
      return { kind: 'ErrorResponse', data: errorData(frame), outcome: 'error' };
    case Backend.NoticeResponse:
      return { kind: 'NoticeResponse', data: errorData(frame) };
    case Backend.EmptyQueryResponse:
      return { kind: 'EmptyQueryResponse', data: {}, outcome: 'ok' };
    case Backend.PortalSuspended:
      return { kind: 'PortalSuspended', data: {}, outcome: 'ok' };
    case Backend.ReadyForQuery:
      return { kind: 'ReadyForQuery', data: { status: String.fromCharCode(r.bytes(1)[0] ?? 0) } };
    case Backend.CopyInResponse:
      return { kind: 'CopyInResponse', data: {} };
    case Backend.CopyOutResponse:
      return { kind: 'CopyOutResponse', data: {} };
    case Backend.DataRow:
      return { kind: 'DataRow', data: { values: decodeRow(r) } };
    case Backend.CopyData:
      return { kind: 'CopyData', data: { bytes: r.remaining, data: r.bytes(r.remaining).toString('base64') } };
    default:
      return undefined;
  }
}

function errorData(frame: Buffer): Record<string, unknown> {
  const fields = decodeErrorFields(frame.subarray(5));
  const data: Record<string, unknown> = {
    severity: fields.get('V') ?? fields.get('S') ?? '',
    sqlstate: fields.get('C') ?? '',
    message: fields.get('M') ?? '',
  };
  const detail = fields.get('D');
  if (detail !== undefined) data['detail'] = detail;
  return data;
}

/** Row values as text when they are valid UTF-8 (text format), else base64. */
function decodeRow(r: ByteReader): unknown[] {
  const count = r.int16();
  const values: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const length = r.int32();
    if (length === -1) {
      values.push(null);
      continue;
    }
    const bytes = r.bytes(length);
    values.push(isUtf8(bytes) ? bytes.toString('utf8') : { base64: bytes.toString('base64') });
  }
  return values;
}
