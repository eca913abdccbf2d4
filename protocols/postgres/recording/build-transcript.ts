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

type OpenFields = Pick<Open, 'protocol' | 'sql' | 'refused' | 'statementName' | 'params' | 'endsAtReady'>;

/**
 * Reads a Postgres session's events back as statements. The server answers in the order the
 * client asked, so outcomes are matched to requests first-in first-out: a Query takes every
 * CommandComplete up to its ReadyForQuery; an Execute takes the next outcome; after an error,
 * the Executes up to the next Sync were skipped by the server.
 */
export function buildTranscript(events: Iterable<RecordedEvent>, sessionStartUs: number): TranscriptEntry[] {
  const builder = new TranscriptBuilder(sessionStartUs);
  for (const e of events) {
    if (e.direction === 'gateway') builder.gateway(e);
    else if (e.direction === 'client') builder.client(e);
    else builder.server(e);
  }
  return builder.entries();
}

class TranscriptBuilder {
  private readonly list: TranscriptEntry[] = [];
  private readonly statements: Open[] = [];
  private readonly pending: Pending[] = [];
  private readonly portals = new Map<string, { statementName: string; params: readonly unknown[] }>();
  private readonly prepared = new Map<string, Recalled>();
  /**
   * Statements the scope denied reach the server as a placeholder; the gateway's event says what
   * they were. Only that event makes a refusal the gateway's: a client can send the placeholder's
   * text itself, and a server can raise the gateway's words.
   */
  private readonly denied: string[] = [];
  private lastParsed: Recalled = { sql: '', refused: false };
  /** When the statement's first frame (a Parse or Bind before its Execute) was recorded. */
  private firstFrameUs: number | undefined;

  constructor(private readonly sessionStartUs: number) {}

  entries(): TranscriptEntry[] {
    return this.list.map((entry) =>
      entry.type === 'statement' ? (finish(this.statements[entry.n - 1], this.sessionStartUs) ?? entry) : entry,
    );
  }

  gateway(e: RecordedEvent): void {
    const d = e.data;
    if (e.kind === 'Denied') this.denied.push(textOf(d['sql']));
    if (e.kind === 'RowsCapped') this.note(e, `result truncated to ${textOf(d['maxRows'], '?')} rows (limits max-rows)`);
    // An operator's terminate: who asked, as the admin endpoint authenticated them.
    if (e.kind === 'Terminated') {
      this.note(e, `${textOf(d['reason'])} by ${textOf(d['by'], '?')} (${textOf(d['via'], '?')}, from ${textOf(d['from'], '?')})`);
    }
  }

  client(e: RecordedEvent): void {
    const d = e.data;
    switch (e.kind) {
      case 'Query':
        this.open(e, { protocol: 'simple', ...this.original(textOf(d['sql'])), endsAtReady: true });
        return;
      case 'Parse':
        this.firstFrameUs ??= e.atUs;
        this.lastParsed = this.original(textOf(d['sql']));
        this.prepared.set(textOf(d['statement']), this.lastParsed);
        return;
      case 'Bind':
        this.firstFrameUs ??= e.atUs;
        this.portals.set(textOf(d['portal']), { statementName: textOf(d['statement']), params: listOf(d['params']) });
        return;
      case 'Execute':
        return this.execute(e);
      case 'FunctionCall':
        this.open(e, {
          protocol: 'function-call',
          sql: `function ${textOf(d['functionOid'])}`,
          refused: false,
          params: listOf(d['args']),
          endsAtReady: true,
        });
        return;
      case 'Sync':
        this.pending.push({ kind: 'sync' });
        return;
      case 'CopyData': {
        const s = this.statements.at(-1);
        if (s) s.copyBytes += Number(d['bytes'] ?? 0);
        return;
      }
      case 'Close':
        if (d['statement'] !== undefined) this.prepared.delete(textOf(d['statement']));
        return;
      case 'CancelRequest':
      case 'Terminate':
      case 'CopyFail':
        this.note(e, e.kind === 'CopyFail' ? textOf(d['message']) : undefined);
    }
  }

  server(e: RecordedEvent): void {
    const d = e.data;
    switch (e.kind) {
      case 'CommandComplete':
      case 'EmptyQueryResponse':
      case 'PortalSuspended':
        return this.outcome(e);
      case 'ErrorResponse':
        // An error with no statement waiting (a Parse or Bind failed before any Execute) is a statement of its own.
        failHead(this.pending, this.head() ?? this.create(e, { protocol: 'extended', ...this.lastParsed, endsAtReady: false }), e);
        return;
      case 'NoticeResponse':
        (this.head() ?? this.statements.at(-1))?.notices.push(`${textOf(d['severity'])}: ${textOf(d['message'])}`);
        return;
      case 'ReadyForQuery': {
        const p = this.pending.shift();
        if (p?.kind === 'statement' && p.s.endUs === undefined) p.s.endUs = e.atUs;
      }
    }
  }

  private execute(e: RecordedEvent): void {
    const portal = this.portals.get(textOf(e.data['portal']));
    const statementName = portal?.statementName ?? '';
    this.open(e, {
      protocol: 'extended',
      ...(this.prepared.get(statementName) ?? { sql: '', refused: false }),
      ...(statementName !== '' ? { statementName } : {}),
      params: portal?.params ?? [],
      endsAtReady: false,
    });
  }

  private outcome(e: RecordedEvent): void {
    const s = this.head();
    if (s === undefined) return;
    const d = e.data;
    s.results.push(d['rows'] === undefined ? { tag: textOf(d['tag'], e.kind) } : { tag: textOf(d['tag']), rows: Number(d['rows']) });
    if (s.status === 'pending') s.status = 'ok';
    s.endUs = e.atUs;
    if (!s.endsAtReady) this.pending.shift();
  }

  private original(sql: string): Recalled {
    if (!sql.startsWith(DENIED_TOKEN_PREFIX)) return { sql, refused: false };
    const was = this.denied.shift();
    return was === undefined ? { sql, refused: false } : { sql: was, refused: true };
  }

  private note(e: RecordedEvent, detail?: string): void {
    this.list.push({ type: 'note', offsetUs: e.atUs - this.sessionStartUs, kind: e.kind, ...(detail !== undefined ? { detail } : {}) });
  }

  private create(e: RecordedEvent, fields: OpenFields): Open {
    const s: Open = {
      n: this.statements.length + 1,
      startUs: this.firstFrameUs ?? e.atUs,
      results: [],
      status: 'pending',
      notices: [],
      copyBytes: 0,
      ...fields,
    };
    this.firstFrameUs = undefined;
    this.statements.push(s);
    this.list.push(placeholder(s));
    return s;
  }

  private open(e: RecordedEvent, fields: OpenFields): void {
    this.pending.push({ kind: 'statement', s: this.create(e, fields) });
  }

  private head(): Open | undefined {
    const p = this.pending[0];
    return p?.kind === 'statement' ? p.s : undefined;
  }
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
