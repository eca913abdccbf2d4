import type { Scope } from '../../../src/policy/scope.js';
import { encodeErrorResponse } from '../wire/backend-messages.js';
import { ByteReader } from '../wire/byte-reader.js';
import { Backend, Frontend } from '../wire/codes.js';
import { decodeErrorFields } from '../wire/error-fields.js';
import { FrameRewriter } from '../wire/frame-rewriter.js';
import { encodeMessage } from '../wire/message-writer.js';
import { decide } from './decision-cache.js';

/** Marks the statement the gateway put in place of a denied one. */
export const DENIED_TOKEN_PREFIX = 'idgate_denied_';

interface Denial {
  readonly token: string;
  readonly reason: string;
  /** The ReadyForQuery (counted from the session's start) by which the server has answered it. */
  readonly answeredBy: number;
}

/**
 * Enforces a scope on one session's statements. Every Query and Parse is judged before any of it
 * is forwarded. A denied one is replaced upstream by a statement that cannot parse, so Postgres
 * itself fails at exactly that point — the transaction aborts, a pipeline skips to its Sync, and
 * client and server stay in step — and that error is rewritten on its way back into a 42501 that
 * names the operation, the table and the scope.
 */
export class StatementGate {
  private readonly toServer: FrameRewriter;
  private readonly toClient: FrameRewriter;
  private readonly denials: Denial[] = [];
  private denied = 0;
  private readiesAsked = 0;
  private readiesSeen = 0;

  constructor(
    private readonly scope: Scope,
    private readonly schema: string,
    private readonly onDenied: (sql: string, reason: string) => void,
  ) {
    this.toServer = new FrameRewriter((code) => code === Frontend.Query || code === Frontend.Parse || code === Frontend.Sync || code === Frontend.FunctionCall, (code, frame) => this.judge(code, frame));
    this.toClient = new FrameRewriter((code) => code === Backend.ErrorResponse || code === Backend.ReadyForQuery, (code, frame) => this.answer(code, frame));
  }

  /** The client's bytes as they may go upstream. */
  fromClient(chunk: Buffer): Buffer[] {
    return this.toServer.process(chunk);
  }

  /** The server's bytes as the client gets them. */
  fromServer(chunk: Buffer): Buffer[] {
    return this.toClient.process(chunk);
  }

  private judge(code: number, frame: Buffer): Buffer | undefined {
    if (code === Frontend.Sync) {
      this.readiesAsked += 1;
      return undefined;
    }
    if (code === Frontend.FunctionCall) {
      // The fast-path call names a function by OID, past any SQL: nothing to check it against.
      this.readiesAsked += 1;
      return this.deny(`a fast-path FunctionCall is not allowed by scope "${this.scope.text}"`, '(FunctionCall)', this.readiesAsked, 'query');
    }
    const r = new ByteReader(frame, 5);
    const statement = code === Frontend.Parse ? r.cstring() : '';
    const sql = r.cstring();
    if (code === Frontend.Query) this.readiesAsked += 1;
    const decision = decide(this.scope, this.schema, sql);
    if (decision.allowed) return undefined;
    return code === Frontend.Query
      ? this.deny(decision.reason, sql, this.readiesAsked, 'query')
      : this.deny(decision.reason, sql, this.readiesAsked + 1, 'parse', statement);
  }

  /** The placeholder that goes upstream instead: a Query, or a Parse of the same statement name. */
  private deny(reason: string, sql: string, answeredBy: number, as: 'query' | 'parse', statement = ''): Buffer {
    const token = `${DENIED_TOKEN_PREFIX}${++this.denied}`;
    this.denials.push({ token, reason, answeredBy });
    this.onDenied(sql, reason);
    return as === 'query'
      ? encodeMessage(Frontend.Query, [{ cstring: token }])
      : encodeMessage(Frontend.Parse, [{ cstring: statement }, { cstring: token }, { int16: 0 }]);
  }

  private answer(code: number, frame: Buffer): Buffer | undefined {
    if (code === Backend.ReadyForQuery) {
      this.readiesSeen += 1;
      // A denied statement inside a pipeline that had already failed is skipped, never answered.
      while ((this.denials[0]?.answeredBy ?? Infinity) <= this.readiesSeen) this.denials.shift();
      return undefined;
    }
    if (this.denials.length === 0) return undefined;
    const message = decodeErrorFields(frame.subarray(5)).get('M') ?? '';
    const index = this.denials.findIndex((d) => message.includes(`"${d.token}"`));
    if (index === -1) return undefined;
    const [denial] = this.denials.splice(index, 1);
    return encodeErrorResponse({ severity: 'ERROR', sqlstate: '42501', message: denial?.reason ?? 'denied by scope' });
  }
}
