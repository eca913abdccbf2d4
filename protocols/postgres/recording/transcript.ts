import type { RecordedEvent, StatementResult, TranscriptEntry, TranscriptStatement } from '../../../src/audit/transcript.js';
import { DENIED_TOKEN_PREFIX } from '../policy/statement-gate.js';
import { listOf, textOf } from '../../../src/json-value.js';

interface Open {
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
  /** A Query ends at ReadyForQuery; an Execute at its own outcome. */
  readonly endsAtReady: boolean;
}

/** A statement's text as the client sent it, and whether the gateway refused it. */
interface Recalled {
  readonly sql: string;
  readonly refused: boolean;
}

type Pending = { readonly kind: 'statement'; readonly s: Open } | { readonly kind: 'sync' };

/**
 * Reads a Postgres session's events back as statements. The server answers in the order the
 * client asked, so outcomes are matched to requests first-in first-out: a Query takes every
 * CommandComplete up to its ReadyForQuery; an Execute takes the next outcome; after an error,
 * the Executes up to the next Sync were skipped by the server.
 */
export function buildTranscript(events: Iterable<RecordedEvent>, sessionStartUs: number): TranscriptEntry[] {
  const entries: TranscriptEntry[] = [];
  const statements: Open[] = [];
  const pending: Pending[] = [];
  const portals = new Map<string, { statementName: string; params: readonly unknown[] }>();
  let firstFrameUs: number | undefined;
  const note = (e: RecordedEvent, detail?: string): void => {
    entries.push({ type: 'note', offsetUs: e.atUs - sessionStartUs, kind: e.kind, ...(detail !== undefined ? { detail } : {}) });
  };
  let lastParsed: Recalled = { sql: '', refused: false };
  // Statements the scope denied reach the server as a placeholder; the gateway's event says what
  // they were. Only that event makes a refusal the gateway's: a client can send the placeholder's
  // text itself, and a server can raise the gateway's words.
  const denied: string[] = [];
  const original = (sql: string): Recalled => {
    if (!sql.startsWith(DENIED_TOKEN_PREFIX)) return { sql, refused: false };
    const was = denied.shift();
    return was === undefined ? { sql, refused: false } : { sql: was, refused: true };
  };
  const prepared = new Map<string, Recalled>();
  const create = (
    e: RecordedEvent,
    fields: Pick<Open, 'protocol' | 'sql' | 'refused' | 'statementName' | 'params' | 'endsAtReady'>,
  ): Open => {
    const s: Open = {
      n: statements.length + 1,
      startUs: firstFrameUs ?? e.atUs,
      results: [],
      status: 'pending',
      notices: [],
      copyBytes: 0,
      ...fields,
    };
    firstFrameUs = undefined;
    statements.push(s);
    entries.push(placeholder(s));
    return s;
  };
  const open = (
    e: RecordedEvent,
    fields: Pick<Open, 'protocol' | 'sql' | 'refused' | 'statementName' | 'params' | 'endsAtReady'>,
  ): Open => {
    const s = create(e, fields);
    pending.push({ kind: 'statement', s });
    return s;
  };
  const head = (): Open | undefined => {
    const p = pending[0];
    return p?.kind === 'statement' ? p.s : undefined;
  };
  for (const e of events) {
    const d = e.data;
    if (e.direction === 'gateway') {
      if (e.kind === 'Denied') denied.push(textOf(d['sql']));
      // An operator's terminate: who asked, as the admin endpoint authenticated them.
      if (e.kind === 'RowsCapped') note(e, `result truncated to ${textOf(d['maxRows'], '?')} rows (limits max-rows)`);
      if (e.kind === 'Terminated') {
        note(e, `${textOf(d['reason'])} by ${textOf(d['by'], '?')} (${textOf(d['via'], '?')}, from ${textOf(d['from'], '?')})`);
      }
      continue;
    }
    if (e.direction === 'client') {
      switch (e.kind) {
        case 'Query':
          open(e, { protocol: 'simple', ...original(textOf(d['sql'])), endsAtReady: true });
          break;
        case 'Parse':
          firstFrameUs ??= e.atUs;
          lastParsed = original(textOf(d['sql']));
          prepared.set(textOf(d['statement']), lastParsed);
          break;
        case 'Bind':
          firstFrameUs ??= e.atUs;
          portals.set(textOf(d['portal']), { statementName: textOf(d['statement']), params: listOf(d['params']) });
          break;
        case 'Execute': {
          const portal = portals.get(textOf(d['portal']));
          const statementName = portal?.statementName ?? '';
          open(e, {
            protocol: 'extended',
            ...(prepared.get(statementName) ?? { sql: '', refused: false }),
            ...(statementName !== '' ? { statementName } : {}),
            params: portal?.params ?? [],
            endsAtReady: false,
          });
          break;
        }
        case 'FunctionCall':
          open(e, {
            protocol: 'function-call',
            sql: `function ${textOf(d['functionOid'])}`,
            refused: false,
            params: listOf(d['args']),
            endsAtReady: true,
          });
          break;
        case 'Sync':
          pending.push({ kind: 'sync' });
          break;
        case 'CopyData': {
          const s = lastStatement(statements);
          if (s) s.copyBytes += Number(d['bytes'] ?? 0);
          break;
        }
        case 'Close':
          if (d['statement'] !== undefined) prepared.delete(textOf(d['statement']));
          break;
        case 'CancelRequest':
        case 'Terminate':
        case 'CopyFail':
          note(e, e.kind === 'CopyFail' ? textOf(d['message']) : undefined);
          break;
        default:
          break;
      }
      continue;
    }
    switch (e.kind) {
      case 'CommandComplete':
      case 'EmptyQueryResponse':
      case 'PortalSuspended': {
        const s = head();
        if (s === undefined) break;
        s.results.push(d['rows'] === undefined ? { tag: textOf(d['tag'], e.kind) } : { tag: textOf(d['tag']), rows: Number(d['rows']) });
        if (s.status === 'pending') s.status = 'ok';
        s.endUs = e.atUs;
        if (!s.endsAtReady) pending.shift();
        break;
      }
      case 'ErrorResponse':
        // An error with no statement waiting (a Parse or Bind failed before any Execute) is a statement of its own.
        failHead(pending, head() ?? create(e, { protocol: 'extended', ...lastParsed, endsAtReady: false }), e);
        break;
      case 'NoticeResponse': {
        const s = head() ?? lastStatement(statements);
        s?.notices.push(`${textOf(d['severity'])}: ${textOf(d['message'])}`);
        break;
      }
      case 'ReadyForQuery': {
        const p = pending.shift();
        if (p?.kind === 'statement' && p.s.endUs === undefined) p.s.endUs = e.atUs;
        break;
      }
      default:
        break;
    }
  }
  return entries.map((entry) => (entry.type === 'statement' ? (finish(statements[entry.n - 1], sessionStartUs) ?? entry) : entry));
}

/** An error answers the statement at the head; in a pipeline the Executes after it, up to Sync, never ran. */
function failHead(pending: Pending[], s: Open, e: RecordedEvent): void {
  s.status = 'error';
  s.sqlstate = textOf(e.data['sqlstate']);
  s.message = textOf(e.data['message']);
  s.endUs = e.atUs;
  const p = pending[0];
  if (p?.kind !== 'statement' || p.s.endsAtReady) return;
  pending.shift();
  while (pending[0]?.kind === 'statement') {
    const skipped = (pending.shift() as { s: Open }).s;
    skipped.status = 'skipped';
  }
}

function lastStatement(statements: Open[]): Open | undefined {
  return statements[statements.length - 1];
}

function placeholder(s: Open): TranscriptStatement {
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

function finish(s: Open | undefined, sessionStartUs: number): TranscriptStatement | undefined {
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
  };
}
