import { isUtf8 } from 'node:buffer';
import { decodeCommandComplete, decodeDataRow, decodeReadyForQuery } from '../wire/backend-messages.js';
import { Backend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import type { DecodedEvent } from './frontend-events.js';

export interface DecodedOutcome extends DecodedEvent {
  readonly outcome?: 'ok' | 'error';
}

const COUNTED = new Set(['INSERT', 'UPDATE', 'DELETE', 'SELECT', 'MOVE', 'FETCH', 'COPY', 'MERGE']);

/** The server's side of a statement, as recorded: its tag and row count, its error, its notices. */
export function decodeBackendFrame(code: number, frame: Buffer): DecodedOutcome | undefined {
  switch (code) {
    case Backend.CommandComplete: {
      const tag = decodeCommandComplete(frame, 5);
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
      return { kind: 'ReadyForQuery', data: { status: decodeReadyForQuery(frame, 5) } };
    case Backend.CopyInResponse:
      return { kind: 'CopyInResponse', data: {} };
    case Backend.CopyOutResponse:
      return { kind: 'CopyOutResponse', data: {} };
    case Backend.DataRow:
      return { kind: 'DataRow', data: { values: decodeDataRow(frame, 5).map(recordedValue) } };
    case Backend.CopyData:
      return { kind: 'CopyData', data: { bytes: frame.length - 5, data: frame.subarray(5).toString('base64') } };
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

/** A row value as text when it is valid UTF-8 (text format), else base64. */
function recordedValue(value: Buffer | null): unknown {
  if (value === null) return null;
  return isUtf8(value) ? value.toString('utf8') : { base64: value.toString('base64') };
}
