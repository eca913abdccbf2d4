import type { Scope } from '../../../src/config/scope.js';
import { decodeParameterStatus, encodeErrorResponse } from '../wire/backend-messages.js';
import { Backend, Frontend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import { HOLD, PASS, PENDING, type FrameStage, type FrameVerdict, type HeaderAction } from '../wire/frame-stage.js';
import { decodeParse, decodeParseTypes, decodeQuery, encodeParse, encodeQuery } from '../wire/frontend-messages.js';
import { ReplyTracker } from '../wire/reply-tracker.js';
import type { GateEvents } from './gate-events.js';
import type { AnalysisContext } from './analysis-context.js';
import { cachedVerdict, decide, rejected, rememberVerdict, type Verdict } from './decision-cache.js';
import { judgeOffThread, OFF_THREAD_CHARS } from './off-thread-analysis.js';
import { reportedLexicalProblem } from './lexical-state.js';
import { approvalTakenBy, unpinnableHere, verdictOf, type ApprovalTaken } from './approval-verdict.js';
import { changesReading } from './reading-settings.js';
import { ApprovalWait } from './approval-wait.js';
import { LateVerdict } from './late-verdict.js';
import { PreparedApprovals, type BindJudgement, type UnnamedParse } from './prepared-approvals.js';
import { decodeStatement, MAX_ANALYSED_STATEMENT_BYTES } from './statement-text.js';

export type { GateEvents } from './gate-events.js';

/** The statement the gateway sends upstream in place of a denied one: it cannot parse, so the server fails exactly there. */
export const DENIED_TOKEN_PREFIX = 'idgate_denied';
const PLACEHOLDER_QUERY = encodeQuery(DENIED_TOKEN_PREFIX);
/** Room for a Parse's name and parameter types around the longest statement analysed. */
const MAX_HELD_FRAME = MAX_ANALYSED_STATEMENT_BYTES + (1 << 19);

type Denial = Extract<Verdict, { allowed: false }>;
type Allowed = Extract<Verdict, { allowed: true }>;

const ENDING: Denial = { allowed: false, sqlstate: '57P01', message: 'the session is ending' };

/** Every type byte: the gate follows every frame of both directions to keep its reply model in step. */
const EVERY_FRAME = new Uint8Array(256).fill(1);

/**
 * Enforces a scope on one session's statements. Every Query and Parse is judged before any of it
 * is forwarded; what cannot be analysed is refused like what the scope denies. A refused statement
 * is replaced upstream by one that cannot parse, so Postgres itself fails at exactly that point —
 * the transaction aborts, a pipeline skips to its Sync, and client and server stay in step — and
 * the server's error for it, found by its position in the reply stream (ReplyTracker), never by
 * its text, is replaced by the gateway's own: 42501 naming the operation, the table and the
 * scope, or the parser's 42601, or 54000/54001/22021/0A000. The server's ParameterStatus reports
 * are watched for the lexical settings the analysis relies on. It works as two stages of the
 * session's frame streams: `clientStage` first on the way up, `serverStage` first on the way down.
 */
export class StatementGate {
  private readonly replies = new ReplyTracker<Denial | UnnamedParse | ApprovalTaken>({
    dropped: (tag) => 'approvalTaken' in tag && this.events.approvalNotRun?.(tag.approvalTaken, 'the server skipped it'),
  });
  /** The tag `allow` sends the Parse it lets on with (prepared-approvals.ts's UnnamedParse). */
  private parseTag: UnnamedParse | undefined;
  private readonly prepared: PreparedApprovals;
  /** `approvals.wait`: statements held for their approval (undefined: refused at once). */
  private readonly approvalWait: ApprovalWait | undefined;
  private stopped = false;
  /**
   * The first setting the session changed after login that changes how it reads statements (a
   * statement that set it went upstream, or the server reported it changed): from then on it takes
   * no approval, whose text would mean something else here (reading-settings.ts).
   */
  private readingChanged: string | undefined;
  /** A statement whose verdict comes later; the client's stream waits behind it. */
  private readonly late = new LateVerdict();

  /** Holds and judges each statement; follows every other client frame. */
  readonly clientStage: FrameStage = {
    interest: EVERY_FRAME,
    header: (code, length) => this.clientHeader(code, length),
    judge: (code, bytes, start, end) => this.judge(code, bytes.subarray(start, end)),
    whenSettled: (callback) => this.late.whenSettled(callback),
  };

  /** Holds each ErrorResponse (to answer a denial with the gateway's own) and ParameterStatus (to watch it); follows every other server frame. */
  readonly serverStage: FrameStage = {
    interest: EVERY_FRAME,
    header: (code) => this.serverHeader(code),
    judge: (code, bytes, start, end) => this.answer(code, bytes.subarray(start, end)),
  };

  constructor(
    private readonly scope: Scope,
    private readonly context: AnalysisContext,
    private readonly events: GateEvents,
  ) {
    this.approvalWait = events.awaitApproval === undefined ? undefined : new ApprovalWait(events, events.awaitApproval);
    this.prepared = new PreparedApprovals((sql, what, params) => events.approvalNeeded(sql, what, params), this.approvalWait);
  }

  /** The client sent a CancelRequest: a statement held for approval stops waiting (57014). */
  cancelWait(): void {
    this.approvalWait?.cancel();
  }

  private clientHeader(code: number, length: number): HeaderAction {
    if (code === Frontend.Query || code === Frontend.Parse || code === Frontend.FunctionCall) {
      // Too long to analyse: refused at its header, its bytes dropped unread.
      return length + 1 > MAX_HELD_FRAME ? this.oversize(code, length) : HOLD;
    }
    // A Bind may be of a prepared statement that needs approval: judged with its values.
    if (code === Frontend.Bind && this.prepared.any) return length + 1 > MAX_HELD_FRAME ? this.oversize(code, length) : HOLD;
    if (code === Frontend.Sync) this.prepared.synced();
    this.replies.sent(code);
    return PASS;
  }

  private serverHeader(code: number): HeaderAction {
    if (code === Backend.ErrorResponse || code === Backend.ParameterStatus) return HOLD;
    const tag = this.replies.received(code);
    if (tag !== undefined && 'unnamedParse' in tag) this.prepared.confirmed(tag);
    return PASS;
  }

  private judge(code: number, frame: Buffer): FrameVerdict {
    if (code === Frontend.Bind) return this.judgeBind(frame);
    if (code === Frontend.FunctionCall) {
      // The fast-path call names a function by OID, past any SQL: nothing to check it against.
      return this.deny(
        '(FunctionCall)',
        { allowed: false, sqlstate: '42501', message: `a fast-path FunctionCall is not allowed by scope "${this.scope.text}"` },
        Frontend.Query,
      );
    }
    const parse = code === Frontend.Parse ? decodeParse(frame) : undefined;
    const statement = parse?.name;
    const sqlBytes = parse?.sql ?? decodeQuery(frame);
    let verdict: Verdict;
    try {
      const sql = this.stopped ? '' : decodeStatement(sqlBytes);
      if (sql.length >= OFF_THREAD_CHARS && cachedVerdict(this.scope, this.context, sql) === undefined) {
        return this.judgeLater(code, statement, sql, parse && decodeParseTypes(frame, parse));
      }
      verdict = this.stopped ? ENDING : this.pinnable(decide(this.scope, this.context, sql));
      if (!verdict.allowed && verdict.approval !== undefined && code === Frontend.Query && this.approvalWait !== undefined) {
        const waited = this.approvalWait.judge(verdict, verdict.approval, sql);
        if (!(waited instanceof Promise)) return this.conclude(waited, code, sql, undefined);
        return this.late.await(waited.then((v) => this.concludeLate(v, code, sql, undefined)));
      }
      // A Parse's parameter types are read only when its Binds will need approval (they are pinned with the values).
      const types = parse !== undefined && !verdict.allowed && verdict.approval !== undefined ? decodeParseTypes(frame, parse) : undefined;
      const judged = this.approvalVerdict(verdict, code, sql, statement, types);
      if (judged instanceof Promise) {
        const kept = statement && Buffer.from(statement);
        return this.late.await(judged.then((v) => this.concludeLate(v, code, sql, kept)));
      }
      verdict = judged;
    } catch (e) {
      verdict = rejected(e);
    }
    return this.conclude(verdict, code, sqlBytes.toString('utf8'), statement);
  }

  /** Why a Bind needing approval for `what` can take none now, if it cannot: the session is ending, or it reads statements otherwise. */
  private readonly bindRefusal = (what: string): Denial | undefined =>
    this.stopped ? ENDING : this.readingChanged === undefined ? undefined : unpinnableHere(what, this.readingChanged);

  /** A statement needing approval, in a session that changed how it reads statements: refused (unpinnableHere). */
  private pinnable(verdict: Verdict): Verdict {
    if (verdict.allowed || verdict.approval === undefined || this.readingChanged === undefined) return verdict;
    return unpinnableHere(verdict.approval, this.readingChanged);
  }

  /** The statement goes on as sent (or as the gateway's own SET), or its placeholder goes instead. */
  private conclude(verdict: Verdict, code: number, sql: string, statement: Buffer | undefined): Buffer | undefined {
    return verdict.allowed ? this.allow(verdict, code, statement) : this.deny(sql, verdict, code, statement);
  }

  /** As `conclude`, for a verdict that came later: a session that began ending meanwhile runs nothing more. */
  private concludeLate(verdict: Verdict, code: number, sql: string, statement: Buffer | undefined): Buffer | undefined {
    return this.conclude(this.stopped ? ENDING : verdict, code, sql, statement);
  }

  /**
   * A Query that needs approval runs if a person approved exactly it (once), else is refused with
   * where its request stands; a Parse of one is judged at each Bind (prepared-approvals.ts).
   */
  private approvalVerdict(
    verdict: Verdict,
    code: number,
    sql: string,
    statement?: Buffer,
    parseTypes: readonly number[] = [],
  ): Verdict | Promise<Verdict> {
    if (verdict.allowed) {
      this.parseTag = code === Frontend.Parse && statement !== undefined ? this.prepared.plainParse(statement) : undefined;
      return this.prepared.refuseExecutes(verdict.executes) ?? verdict;
    }
    if (verdict.approval === undefined) return verdict;
    if (code === Frontend.Parse) {
      // A statement judged off the relay thread comes here without its name: refused rather than guessed.
      if (statement === undefined) {
        return { allowed: false, sqlstate: '0A000', message: `${verdict.approval} needs approval: prepare it again` };
      }
      return this.prepared.parsed(statement, sql, verdict.approval, parseTypes, verdict.changesReading);
    }
    return verdictOf(verdict, verdict.approval, this.events.approvalNeeded(sql, verdict.approval));
  }

  /** A Bind of a prepared statement that needs approval goes on once approved with exactly its values; else IGA01 in its place. */
  private judgeBind(frame: Buffer): FrameVerdict {
    const judged = this.prepared.bind(frame, this.bindRefusal);
    return judged instanceof Promise ? this.late.await(judged.then((j) => this.bound(j))) : this.bound(judged);
  }

  private bound(refused: BindJudgement): Buffer | undefined {
    if (refused === undefined || 'approvalTaken' in refused) {
      if (refused?.changesReading !== undefined) this.readingChanged ??= refused.changesReading;
      this.replies.sent(Frontend.Bind, refused);
      return undefined;
    }
    this.events.denied(refused.sql, refused.denial);
    this.replies.sent(Frontend.Bind, refused.denial);
    return refused.replacement;
  }

  /** A large statement: parsed on the analysis thread while this session's client stream waits (the others go on). */
  private judgeLater(code: number, statement: Buffer | undefined, sql: string, parseTypes: readonly number[] | undefined): typeof PENDING {
    // The frame lies in a buffer that is reused: keep copies of what the verdict needs.
    const kept = statement && Buffer.from(statement);
    const judged = judgeOffThread(this.scope, this.context, sql).then((verdict) => {
      rememberVerdict(this.scope, this.context, sql, verdict);
      return this.stopped ? ENDING : this.approvalVerdict(this.pinnable(verdict), code, sql, kept, parseTypes);
    });
    return this.late.await(judged.then((v) => this.concludeLate(v, code, sql, kept)));
  }

  /** Too long to analyse: dropped unread (a Parse's statement name is not known, so its placeholder is unnamed). */
  private oversize(code: number, length: number): Buffer {
    const message = `message of ${length} bytes is longer than the ${MAX_HELD_FRAME} bytes the gateway analyses`;
    return this.deny(
      `(${length} bytes, not read)`,
      { allowed: false, sqlstate: '54000', message },
      code === Frontend.Parse ? code : Frontend.Query,
      Buffer.alloc(0),
    );
  }

  /** An allowed statement goes on as sent, but a lone SET application_name goes as the gateway's own SET. */
  private allow(verdict: Allowed, code: number, statement: Buffer | undefined): Buffer | undefined {
    if (verdict.changesReading !== undefined) this.readingChanged ??= verdict.changesReading;
    this.replies.sent(code, code === Frontend.Parse ? this.parseTag : approvalTakenBy(verdict, false));
    this.parseTag = undefined;
    if (verdict.applicationName === undefined) return undefined;
    const { value, local } = verdict.applicationName;
    // standard_conforming_strings is pinned on: only the quote needs doubling.
    const sql = `SET ${local ? 'LOCAL ' : ''}application_name = '${this.events.pinnedApplicationName(value).replaceAll("'", "''")}'`;
    if (code !== Frontend.Parse) return encodeQuery(sql);
    return encodeParse(statement ?? Buffer.alloc(0), sql);
  }

  /** The placeholder that goes upstream instead: a Query, or a Parse of the same statement name. */
  private deny(sql: string, denial: Denial, as: number, statement?: Buffer): Buffer {
    this.events.denied(sql, denial);
    if (as !== Frontend.Parse) {
      this.replies.sent(Frontend.Query, denial);
      return PLACEHOLDER_QUERY;
    }
    this.replies.sent(Frontend.Parse, denial);
    return encodeParse(statement ?? Buffer.alloc(0), DENIED_TOKEN_PREFIX);
  }

  private answer(code: number, frame: Buffer): Buffer | undefined {
    const fields = code === Backend.ErrorResponse ? decodeErrorFields(frame.subarray(5)) : undefined;
    if (fields === undefined) {
      this.replies.received(code);
      this.watchParameter(frame);
      return undefined;
    }
    const denial = this.replies.received(code, fields.get('C'));
    if (denial !== undefined && 'approvalTaken' in denial) {
      if (denial.atBind) this.events.approvalNotRun?.(denial.approvalTaken, 'the server refused its Bind');
      return undefined;
    }
    if (denial === undefined || 'unnamedParse' in denial || fields.get('V') !== 'ERROR') return undefined;
    return encodeErrorResponse({
      severity: 'ERROR',
      sqlstate: denial.sqlstate,
      message: denial.message,
      ...(denial.position !== undefined ? { position: denial.position } : {}),
    });
  }

  private watchParameter(frame: Buffer): void {
    const { name, value } = decodeParameterStatus(frame, 5);
    // Whatever changed it (a statement that set it, a rolled-back SET reverting it): the session reads differently than at login.
    if (changesReading(name)) this.readingChanged ??= name.toLowerCase();
    const problem = reportedLexicalProblem(name, value);
    if (problem === undefined || this.stopped) return;
    this.stopped = true;
    this.events.lexicalStateChanged(problem);
  }
}
