import type { RecordedEvent, TranscriptEntry } from '../../../src/audit/transcript.js';
import { failed, finish, outcome, placeholder, type Open, type OpenFields, type Recalled } from './transcript-statement.js';
import { DENIED_TOKEN_PREFIX } from '../policy/statement-gate.js';
import { listOf, textOf } from '../../../src/json-value.js';
import { Backend, Frontend } from '../wire/codes.js';
import { ReplyTracker } from '../wire/reply-tracker.js';
import { UPSTREAM_LOGIN, upstreamLoginText } from './upstream-login.js';

/**
 * What the server answers as one: the statement a Parse prepares, its Bind and Describe, up to the
 * Execute that runs it (a Query or FunctionCall is one by itself). An error in any of them is the
 * statement's, once the Execute is known; a Close, or a Parse never executed, is a statement of its
 * own only if it fails.
 */
interface Unit {
  readonly recalled: Recalled;
  bound: boolean;
  statement: Open | undefined;
}

const FRONTEND: Readonly<Record<string, number>> = Frontend;
const BACKEND: Readonly<Record<string, number>> = Backend;

/**
 * Reads a Postgres session's events back as statements, with the reply model the gate uses live
 * (wire/reply-tracker.ts): each outcome, error and ReadyForQuery is matched to the message it
 * answers by the server's own rules, and the messages an error makes the server skip up to Sync
 * are the statements shown as skipped.
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
  private readonly replies = new ReplyTracker<Unit>({ acknowledgementsImplied: true, dropped: (unit) => skipped(unit) });
  /** The replies stopped fitting the requests (a damaged or cut recording): outcomes are no longer matched. */
  private lost = false;
  private readonly portals = new Map<string, { statementName: string; params: readonly unknown[] }>();
  private readonly prepared = new Map<string, Recalled>();
  /**
   * Statements the scope denied reach the server as a placeholder; the gateway's event says what
   * they were. Only that event makes a refusal the gateway's: a client can send the placeholder's
   * text itself, and a server can raise the gateway's words.
   */
  private readonly denied: string[] = [];
  private lastParsed: Recalled = { sql: '', refused: false };
  /** The extended-protocol statement being put together (its Parse, Bind, Describe). */
  private unit: Unit | undefined;
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
    // How the server read everything after it: the settings, identity and search path the session logged in with.
    if (e.kind === UPSTREAM_LOGIN) this.note(e, `logged in upstream with ${upstreamLoginText(d)}`);
    if (e.kind === 'Denied') this.denied.push(textOf(d['sql']));
    if (e.kind === 'RowsCapped') this.note(e, `result truncated to ${textOf(d['maxRows'], '?')} rows (limits max-rows)`);
    // An operator's terminate: who asked, as the admin endpoint authenticated them.
    if (e.kind === 'Terminated') {
      this.note(e, `${textOf(d['reason'])} by ${textOf(d['by'], '?')} (${textOf(d['via'], '?')}, from ${textOf(d['from'], '?')})`);
    }
    // A statement held for approval, and the approved one run: request → decision → execution.
    if (e.kind === 'ApprovalRequested') this.note(e, `request ${textOf(d['id'])}: ${textOf(d['what'])} needs approval`);
    if (e.kind === 'ApprovalDecided') {
      const how = `${textOf(d['by'], '?')} (${textOf(d['via'], '?')}, from ${textOf(d['from'], '?')}): ${textOf(d['reason'])}`;
      const verb = d['approve'] === true ? (d['state'] === 'pending' ? 'approved (one of two)' : 'approved') : 'refused';
      this.note(e, `request ${textOf(d['id'])} ${verb} by ${how}`);
    }
    if (e.kind === 'ApprovalReturned') {
      this.note(e, `request ${textOf(d['id'])} given back (${textOf(d['why'])}): the statement did not run, its approval stands`);
    }
    if (e.kind === 'ApprovalUsed') this.note(e, `request ${textOf(d['id'])} approved by ${approversText(d)}; the statement below runs`);
  }

  client(e: RecordedEvent): void {
    const d = e.data;
    const code = FRONTEND[e.kind];
    switch (e.kind) {
      case 'Query':
        this.sent(code, this.openAlone(e, { protocol: 'simple', ...this.original(textOf(d['sql'])) }));
        return;
      case 'FunctionCall': {
        const fields = {
          protocol: 'function-call',
          sql: `function ${textOf(d['functionOid'])}`,
          refused: false,
          params: listOf(d['args']),
        } as const;
        this.sent(code, this.openAlone(e, fields));
        return;
      }
      case 'Parse':
        this.firstFrameUs ??= e.atUs;
        this.lastParsed = this.original(textOf(d['sql']));
        this.prepared.set(textOf(d['statement']), this.lastParsed);
        this.unit = { recalled: this.lastParsed, bound: false, statement: undefined };
        this.sent(code, this.unit);
        return;
      case 'Bind':
        return this.bind(e);
      case 'Describe':
        this.sent(code, this.unit ?? { recalled: this.lastParsed, bound: false, statement: undefined });
        return;
      case 'Execute':
        return this.execute(e);
      case 'Close':
        if (d['statement'] !== undefined) this.prepared.delete(textOf(d['statement']));
        this.sent(code, { recalled: this.lastParsed, bound: false, statement: undefined });
        return;
      case 'CopyData': {
        const s = this.statements.at(-1);
        if (s) s.copyBytes += Number(d['bytes'] ?? 0);
        return;
      }
      case 'CancelRequest':
      case 'Terminate':
        this.note(e);
        return;
      case 'CopyFail':
        this.note(e, textOf(d['message']));
    }
    if (code !== undefined) this.sent(code, undefined);
  }

  server(e: RecordedEvent): void {
    const d = e.data;
    const code = BACKEND[e.kind];
    if (code === undefined || this.lost) return;
    if (e.kind === 'NoticeResponse') {
      (this.replies.current?.statement ?? this.statements.at(-1))?.notices.push(`${textOf(d['severity'])}: ${textOf(d['message'])}`);
      return;
    }
    let unit: Unit | undefined;
    try {
      unit = this.replies.received(code, e.kind === 'ErrorResponse' ? textOf(d['sqlstate']) : undefined);
    } catch {
      this.lost = true;
      this.note(e, 'the replies no longer match the requests from here on: outcomes are not matched');
      return;
    }
    switch (e.kind) {
      case 'CommandComplete':
      case 'EmptyQueryResponse':
      case 'PortalSuspended':
        return outcome(unit?.statement, e);
      case 'ErrorResponse':
        return failed(unit === undefined ? this.alone(e) : this.statementOf(unit, e), e);
      case 'ReadyForQuery':
        if (unit?.statement !== undefined) unit.statement.endUs ??= e.atUs;
    }
  }

  private bind(e: RecordedEvent): void {
    this.firstFrameUs ??= e.atUs;
    const statementName = textOf(e.data['statement']);
    this.portals.set(textOf(e.data['portal']), { statementName, params: listOf(e.data['params']) });
    // A Bind right after its Parse belongs to it; any other Bind starts a statement of its own.
    if (this.unit === undefined || this.unit.bound) {
      this.unit = { recalled: this.prepared.get(statementName) ?? { sql: '', refused: false }, bound: false, statement: undefined };
    }
    this.unit.bound = true;
    this.sent(Frontend.Bind, this.unit);
  }

  private execute(e: RecordedEvent): void {
    const portal = this.portals.get(textOf(e.data['portal']));
    const statementName = portal?.statementName ?? '';
    const unit = this.unit ?? {
      recalled: this.prepared.get(statementName) ?? { sql: '', refused: false },
      bound: true,
      statement: undefined,
    };
    this.unit = undefined;
    unit.statement = this.create(e, {
      protocol: 'extended',
      ...(this.prepared.get(statementName) ?? { sql: '', refused: false }),
      ...(statementName !== '' ? { statementName } : {}),
      params: portal?.params ?? [],
    });
    this.sent(Frontend.Execute, unit);
  }

  private sent(code: number | undefined, unit: Unit | undefined): void {
    if (code !== undefined && !this.lost) this.replies.sent(code, unit);
  }

  /** A Query or FunctionCall: a statement by itself. */
  private openAlone(e: RecordedEvent, fields: OpenFields): Unit {
    this.unit = undefined;
    return { recalled: { sql: fields.sql, refused: fields.refused }, bound: true, statement: this.create(e, fields) };
  }

  /** The statement an error in `unit` is shown against: its Execute's, else one of its own (a Parse or Bind that failed). */
  private statementOf(unit: Unit, e: RecordedEvent): Open {
    unit.statement ??= this.create(e, { protocol: 'extended', ...unit.recalled });
    return unit.statement;
  }

  /** An error that answers nothing pending (a FATAL between statements) is a statement of its own. */
  private alone(e: RecordedEvent): Open {
    return this.create(e, { protocol: 'extended', ...this.lastParsed });
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
}

/** A statement the server skipped (after an error, up to Sync) never ran. */
function skipped(unit: Unit): void {
  if (unit.statement?.status === 'pending') unit.statement.status = 'skipped';
}

/** Who approved an ApprovalUsed's request: each approver (recorded since two may be required), else the one decision. */
function approversText(d: Record<string, unknown>): string {
  const one = (by: unknown, via: unknown, from: unknown, at: unknown, reason: unknown): string =>
    `${textOf(by, '?')} (${textOf(via, '?')}, from ${textOf(from, '?')}) at ${textOf(at, '?')}: ${textOf(reason)}`;
  const approvers = listOf(d['approvers']).filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null);
  if (approvers.length === 0) return one(d['decidedBy'], d['via'], d['from'], d['decidedAt'], d['reason']);
  return approvers.map((a) => one(a['by'], a['via'], a['from'], a['at'], a['reason'])).join('; and by ');
}
