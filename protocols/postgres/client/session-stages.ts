import { dryRun } from '../upstream/dry-run.js';
import type { SqlParser } from '../policy/sql-parser.js';
import type { ApprovalOutcome } from '../../../src/approvals/approval-registry.js';
import type { SessionLimits } from '../../../src/config/gateway-config.js';
import type { Scope } from '../../../src/config/scope.js';
import type { SessionRecorder } from '../../../src/audit/session-recorder.js';
import type { Logger } from '../../../src/logging/logger.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';
import type { GatewayServices } from '../../../src/protocol.js';
import type { AnalysisContext } from '../policy/analysis-context.js';
import { RowCap } from '../policy/row-cap.js';
import { StatementGate, type GateEvents } from '../policy/statement-gate.js';
import { encodeNoticeResponse } from '../wire/backend-messages.js';
import type { FrameStage } from '../wire/frame-stage.js';
import { pinnedApplicationName } from './session-settings.js';
import { entryName } from '../../../src/policy/entry-name.js';
import { errorMessage } from '../../../src/idgate-error.js';
import { outcomeHere } from '../../../src/approvals/found-elsewhere.js';

/** What a session's own stages report to: its services, its log line and its audit recorder. */
export interface StageContext {
  readonly services: GatewayServices;
  readonly grant: SessionGrant;
  readonly log: Logger;
  readonly recorder: SessionRecorder;
  /** Sends a gateway-made frame to the client between two of the server's (false: the session has ended). */
  readonly notifyClient: (frame: Buffer) => boolean;
  /** The login's settings that change what a statement means (reading-settings.ts): pinned with each approval. */
  readonly readingSettings: string | undefined;
  /** What the session's upstream login sent: an approval's dry run logs in the same way, to read the statement as the session would. */
  readonly upstreamParameters: ReadonlyMap<string, string>;
}

export interface SessionStages {
  readonly client: readonly FrameStage[];
  readonly server: readonly FrameStage[];
  /** The client sent a CancelRequest: a statement held for approval stops waiting. */
  readonly cancelled: () => void;
}

/**
 * The stages a session's frame streams start with: the scope's gate both ways (when the scope is
 * not `all`), then `max-rows` on the server's side (when set). The relay adds its own after them.
 */
export function sessionStages(
  context: StageContext,
  scope: Scope,
  analysis: AnalysisContext | undefined,
  limits: SessionLimits,
  /** The server changed how it reads statements: the session must end (after the chunk in hand). */
  onLexicalChange: (problem: string) => void,
): SessionStages {
  const gate = analysis === undefined ? undefined : scopeGate(context, scope, analysis, onLexicalChange);
  const cap = limits.maxRows === undefined ? undefined : rowCap(context, limits.maxRows);
  return {
    client: gate === undefined ? [] : [gate.clientStage],
    server: [...(gate === undefined ? [] : [gate.serverStage]), ...(cap === undefined ? [] : [cap])],
    cancelled: () => gate?.cancelWait(),
  };
}

function scopeGate(
  { services, grant, log, recorder, notifyClient, readingSettings, upstreamParameters }: StageContext,
  scope: Scope,
  analysis: AnalysisContext,
  onLexicalChange: (problem: string) => void,
): StatementGate {
  return new StatementGate(scope, analysis, {
    pinnedApplicationName: (asked) => pinnedApplicationName(grant, asked),
    denied: (sql, denial) => {
      services.metrics.scopeDenied(grant.connection.name, entryName(grant.rule));
      log.info({ reason: denial.message, sqlstate: denial.sqlstate, scope: scope.text }, 'statement denied by scope');
      if (recorder.recordsFrames) recorder.record('gateway', 'Denied', { sql, reason: denial.message, sqlstate: denial.sqlstate });
    },
    approvalNeeded: (sql, what, params) =>
      approvalNeeded({ services, grant, log, recorder, readingSettings, upstreamParameters }, analysis.parser, { sql, what, params }),
    ...waitForApprovals(services, notifyClient, recorder),
    approvalNotRun: (id, why) => {
      if (!services.approvals.giveBack(id, recorder.sessionId)) return;
      services.metrics.approval('returned');
      log.info({ approvalId: id, why }, 'approval given back: its statement did not run');
      recorder.record('gateway', 'ApprovalReturned', { id, why });
    },
    lexicalStateChanged: (problem) => {
      log.warn({ reason: 'lexical-state-changed', problem }, 'ending session: the server changed how it reads statements');
      onLexicalChange(problem);
    },
  });
}

/**
 * `approvals.wait`: statements needing approval are held open for their answer, at most that long,
 * with a NOTICE every `approvals.heartbeat` so the waiting client (and a person watching psql)
 * knows why nothing comes back, and a proxy in between sees the connection alive.
 */
function waitForApprovals(
  services: GatewayServices,
  notifyClient: (frame: Buffer) => boolean,
  recorder: SessionRecorder,
): Pick<GateEvents, 'awaitApproval'> {
  const { waitMs, heartbeatMs } = services.config.approvals;
  if (waitMs <= 0) return {};
  return {
    awaitApproval: (id, answered) => {
      const started = Date.now();
      const beat = (): void => {
        const seconds = Math.round((Date.now() - started) / 1000);
        const notice = encodeNoticeResponse({
          severity: 'NOTICE',
          sqlstate: '00000',
          message: `waiting for approval: request ${id}, ${seconds} s so far (the wait ends after ${Math.round(waitMs / 1000)} s)`,
        });
        if (notifyClient(notice)) return;
        clearInterval(timer);
        stopWaiting();
      };
      const timer = heartbeatMs > 0 ? setInterval(beat, heartbeatMs).unref() : undefined;
      const stopWaiting = services.approvals.whenDecided(id, waitMs, (state) => {
        clearInterval(timer);
        // A session that ended meanwhile (terminated, its client gone) takes nothing: the approval stays for the next asking.
        if (recorder.isOpen) answered(state);
      });
      return () => {
        clearInterval(timer);
        stopWaiting();
      };
    },
  };
}

/**
 * Where a statement that needs approval stands: what this process holds for it, else (with
 * listen.workers) what the other workers hold — an approval there is taken for this session, a
 * request there is the statement's request here too — else a new request. What changed is logged,
 * counted and recorded in the session.
 */
function approvalNeeded(
  context: Omit<StageContext, 'notifyClient'>,
  parser: SqlParser,
  statement: { readonly sql: string; readonly what: string; readonly params: string | undefined },
): ApprovalOutcome | Promise<ApprovalOutcome> {
  const { services, grant, recorder } = context;
  const { sql, what, params } = statement;
  const { identity, connection, rule } = grant;
  const asker = {
    objectId: identity.objectId,
    appId: identity.appId,
    displayName: identity.displayName,
    connection: connection.name,
    entry: entryName(rule),
    sessionId: recorder.sessionId,
    ...(context.readingSettings !== undefined ? { settings: context.readingSettings } : {}),
  };
  const { approvals, approvalFleet } = services;
  const here = approvals.checkHere(asker, sql, params);
  if (here !== undefined || approvalFleet === undefined) {
    return approvalTold(context, parser, statement, here ?? approvals.request(asker, sql, what, params));
  }
  const pin = {
    objectId: asker.objectId,
    connection: asker.connection,
    sql,
    ...(params !== undefined ? { params } : {}),
    ...(asker.settings !== undefined ? { settings: asker.settings } : {}),
  };
  const claimed = approvalFleet.claim(pin, asker.sessionId).catch((e: unknown) => {
    context.log.warn(
      { reason: 'approval-lookup-failed', err: errorMessage(e) },
      'where a statement needing approval stands is not known: refused',
    );
    throw e;
  });
  return claimed.then((found) => {
    const { outcome, news } = outcomeHere(approvals, found, asker, statement, recorder.isOpen);
    return news ? approvalTold(context, parser, statement, outcome) : outcome;
  });
}

/** What a statement's approval outcome changed: logged, counted and recorded in the session. */
function approvalTold(
  { services, grant, log, recorder, upstreamParameters }: Omit<StageContext, 'notifyClient'>,
  parser: SqlParser,
  { sql, what, params }: { readonly sql: string; readonly what: string; readonly params: string | undefined },
  outcome: ApprovalOutcome,
): ApprovalOutcome {
  const { connection } = grant;
  if (outcome.kind === 'too-many') return outcome;
  const { request } = outcome;
  if (outcome.kind === 'pending' && outcome.created) {
    services.metrics.approval('requested');
    log.info({ approvalId: request.id, fingerprint: request.fingerprint, what }, 'statement held for approval');
    recorder.record('gateway', 'ApprovalRequested', {
      id: request.id,
      sql,
      ...(params !== undefined ? { params } : {}),
      ...(request.asker.settings !== undefined ? { settings: request.asker.settings } : {}),
      fingerprint: request.fingerprint,
      what,
    });
    // Each decision, in the chain of the session that asked (while it is open), as it is taken.
    services.approvals.onDecision(request.id, (decided, d) => {
      if (!recorder.isOpen) return;
      recorder.record('gateway', 'ApprovalDecided', {
        id: decided.id,
        approve: d.approve,
        by: d.by,
        via: d.via,
        from: d.from,
        reason: d.reason,
        state: decided.state,
      });
    });
    if (services.config.approvals.preview) {
      // Off the statement's way: the approver sees the count once it is in.
      void dryRun(connection, sql, parser, { passwords: services.upstreamPasswords, parameters: upstreamParameters }, params).then(
        (preview) => services.approvals.setPreview(request.id, preview),
      );
    }
  }
  if (outcome.kind === 'approved') {
    const d = request.decision;
    services.metrics.approval('used');
    log.info({ approvalId: request.id, approvedBy: d?.by, via: d?.via }, 'approved statement run');
    // The whole chain in the session that ran it: which request, who decided, how they proved it, why.
    recorder.record('gateway', 'ApprovalUsed', {
      id: request.id,
      fingerprint: request.fingerprint,
      requestedBy: request.asker.sessionId,
      decidedBy: d?.by ?? null,
      via: d?.via ?? null,
      from: d?.from ?? null,
      reason: d?.reason ?? null,
      decidedAt: d === undefined ? null : new Date(d.atMs).toISOString(),
      // Each approver, in order (two with approvals.approvers-required: 2).
      approvers: request.approvals.map((a) => ({
        by: a.by,
        via: a.via,
        from: a.from,
        reason: a.reason,
        at: new Date(a.atMs).toISOString(),
      })),
    });
  }
  return outcome;
}

function rowCap({ services, log, recorder }: Omit<StageContext, 'notifyClient'>, maxRows: number): RowCap {
  return new RowCap(maxRows, () => {
    services.metrics.limitReached('max-rows');
    log.info({ maxRows }, 'result truncated by max-rows');
    // The gateway's own act: kept even for a session recorded without its frames.
    recorder.record('gateway', 'RowsCapped', { maxRows });
  });
}
