import type { RecordedEvent, StatementResult, TranscriptStatement } from '../../../src/audit/transcript.js';
import { textOf } from '../../../src/json-value.js';
import type { Delivered } from './result-tally.js';

/** A statement as the transcript puts it together, from its first frame to its outcome. */
export interface Open {
  readonly n: number;
  readonly startUs: number;
  readonly protocol: TranscriptStatement['protocol'];
  readonly sql: string;
  readonly statementName?: string;
  readonly params?: readonly unknown[];
  /** The gateway refused it: what reached the server was its placeholder. */
  readonly refused: boolean;
  results: StatementResult[];
  status: 'ok' | 'error' | 'skipped' | 'pending';
  sqlstate?: string;
  message?: string;
  endUs?: number;
  notices: string[];
  copyBytes: number;
  /** What its outcomes sent the client and wrote, summed (absent when none was recorded with a tally). */
  delivered?: Delivered;
}

/** A statement's text as the client sent it, and whether the gateway refused it. */
export interface Recalled {
  readonly sql: string;
  readonly refused: boolean;
}

export type OpenFields = Pick<Open, 'protocol' | 'sql' | 'refused' | 'statementName' | 'params'>;

/** An outcome (CommandComplete, EmptyQueryResponse, PortalSuspended) of `s`. */
export function outcome(s: Open | undefined, e: RecordedEvent): void {
  if (s === undefined) return;
  const d = e.data;
  s.results.push(d['rows'] === undefined ? { tag: textOf(d['tag'], e.kind) } : { tag: textOf(d['tag']), rows: Number(d['rows']) });
  if (s.status === 'pending') s.status = 'ok';
  s.endUs = e.atUs;
  addDelivered(s, e);
}

/** An outcome's tally (recorded after it since schema 28) adds to its statement's. */
function addDelivered(s: Open, e: RecordedEvent): void {
  const d = e.data['delivered'];
  if (typeof d !== 'object' || d === null) return;
  const t = d as Record<string, unknown>;
  const sum = (s.delivered ??= { returned: 0, affected: 0, bytes: 0 });
  sum.returned += Number(t['returned'] ?? 0);
  sum.affected += Number(t['affected'] ?? 0);
  sum.bytes += Number(t['bytes'] ?? 0);
}

export function failed(s: Open, e: RecordedEvent): void {
  addDelivered(s, e);
  s.status = 'error';
  s.sqlstate = textOf(e.data['sqlstate']);
  s.message = textOf(e.data['message']);
  s.endUs = e.atUs;
}

/** Where a statement stands in the list until the events are read. */
export function placeholder(s: Open): TranscriptStatement {
  return {
    type: 'statement',
    n: s.n,
    offsetUs: 0,
    durationUs: null,
    protocol: s.protocol,
    sql: s.sql,
    outcome: { status: 'pending', results: [] },
  };
}

export function finish(s: Open | undefined, sessionStartUs: number): TranscriptStatement | undefined {
  if (s === undefined) return undefined;
  return {
    type: 'statement',
    n: s.n,
    offsetUs: s.startUs - sessionStartUs,
    durationUs: s.endUs === undefined ? null : s.endUs - s.startUs,
    protocol: s.protocol,
    sql: s.sql,
    ...(s.statementName !== undefined ? { statementName: s.statementName } : {}),
    ...(s.params !== undefined ? { params: s.params } : {}),
    outcome: {
      status: s.status,
      results: s.results,
      ...(s.sqlstate !== undefined ? { sqlstate: s.sqlstate } : {}),
      ...(s.message !== undefined ? { message: s.message } : {}),
      ...(s.refused && s.status === 'error' ? { refusedBy: 'gateway' as const } : {}),
    },
    ...(s.notices.length > 0 ? { notices: s.notices } : {}),
    ...(s.copyBytes > 0 ? { copyBytes: s.copyBytes } : {}),
    ...(s.delivered !== undefined ? { delivered: { ...s.delivered } } : {}),
  };
}
