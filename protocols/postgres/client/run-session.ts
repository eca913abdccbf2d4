import { entryName } from '../../../src/policy/entry-name.js';
import { nowMicros } from '../../../src/audit/audit-event.js';
import { errorMessage } from '../../../src/idgate-error.js';
import type { ConnectionConfig, SessionLimits } from '../../../src/config/gateway-config.js';
import type { Scope } from '../../../src/config/scope.js';
import type { Logger } from '../../../src/logging/logger.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';
import type { GatewayServices } from '../../../src/protocol.js';
import { SessionActivity } from '../../../src/session/session-activity.js';
import type { ReleaseSlot } from '../../../src/session/session-slots.js';
import type { CancelKeys } from '../cancel/cancel-keys.js';
import type { AnalysisContext } from '../policy/analysis-context.js';
import type { ReadSource } from '../read-source.js';
import { PostgresRecorder } from '../recording/postgres-recorder.js';
import type { RelayEnd } from '../relay/relay-options.js';
import { Relay } from '../relay/relay.js';
import { ResultTally } from '../recording/result-tally.js';
import { UPSTREAM_LOGIN, upstreamLoginData } from '../recording/upstream-login.js';
import type { UpstreamSession } from '../upstream/login-upstream.js';
import { sendCancel } from '../upstream/send-cancel.js';
import { AUTHENTICATION_OK, encodeBackendKeyData } from '../wire/backend-messages.js';
import { ProtocolError } from '../wire/protocol-error.js';
import type { ClientStream } from './negotiate-transport.js';
import { sessionHeader } from './session-header.js';
import { exitFatal, internalErrorFatal, protocolFatal } from './session-exit.js';
import { sessionStages, type StageContext } from './session-stages.js';
import { readingSettingsOf } from '../policy/reading-settings.js';
import type { StartupRequest } from './startup-parameters.js';

/** A login that passed every check, with its upstream session open. */
export interface Admitted {
  readonly grant: SessionGrant;
  readonly scope: Scope;
  readonly limits: SessionLimits;
  readonly request: StartupRequest;
  /** What the upstream session logged in with (the client's settings, the gateway's, the pinned ones). */
  readonly parameters: ReadonlyMap<string, string>;
  readonly session: UpstreamSession;
  readonly analysis: AnalysisContext | undefined;
  readonly releaseSlot: ReleaseSlot;
}

export interface SessionContext {
  readonly services: GatewayServices;
  readonly cancelKeys: CancelKeys;
  readonly sessionId: string;
  readonly log: Logger;
}

/** The client's end of the session once the login is done. */
export interface ClientSide {
  readonly stream: ClientStream;
  /** Where its bytes arrive (the plain socket's own read buffer, or the TLS stream). */
  readonly source: ReadSource;
  readonly tls: boolean;
  readonly address: string;
}

/**
 * The session after its login: the audit recorder and the login's record, the frame stages its
 * scope and limits ask for, the client's own cancel key, the welcome, then the relay — registered
 * so that `/sessions`, limits and revocation can end it, and unregistered when it ends.
 */
export function runSession(at: SessionContext, client: ClientSide, admitted: Admitted, clientLeftover: Buffer): void {
  const { grant, request, session: upstream } = admitted;
  const { services, cancelKeys, sessionId } = at;
  const { identity } = grant;
  const log = at.log.child({ sessionId, connection: grant.connection.name, identity: identity.objectId, appId: identity.appId });
  const recorder = services.audit.startSession(
    sessionHeader(sessionId, grant, request.clientUser, client.address, client.tls),
    grant.rule.record,
  );
  recordAcceptedLogin(at, grant, request.clientUser, client.address);
  if (recorder.recordsFrames) recorder.record('gateway', UPSTREAM_LOGIN, upstreamLoginData(admitted.parameters));
  const activity = new SessionActivity();
  const tally = new ResultTally(activity);
  const observer = recorder.recordsFrames ? new PostgresRecorder(recorder, tally) : undefined;
  // The relay is made below; the gate only notifies once the session runs.
  const notifyClient = (frame: Buffer): boolean => relay.notify(frame);
  const stages = sessionStages(
    { services, grant, log, recorder, notifyClient, ...howItLoggedIn(admitted) },
    admitted.scope,
    admitted.analysis,
    admitted.limits,
    (problem) =>
      // After the server's chunk in hand is relayed; the gate already refuses every further statement.
      queueMicrotask(() =>
        relay.terminate('lexical-state-changed', exitFatal('lexical-state-changed', `terminating connection: ${problem}`)),
      ),
  );
  const gatewayKey =
    upstream.backendKey &&
    cancelKeys.issue({
      target: grant.connection,
      upstreamKey: upstream.backendKey,
      sessionId,
      onCancel: () => {
        observer?.onCancelRequest();
        stages.cancelled();
      },
    });
  welcome(client.stream, upstream, gatewayKey);
  const onEnd = (end: RelayEnd): void => {
    if (gatewayKey) cancelKeys.release(gatewayKey);
    admitted.releaseSlot();
    const { reason, bytesFromClient, bytesToClient } = end;
    recorder.end({ reason, bytesFromClient, bytesToClient, rowsReturned: activity.rowsReturned, rowsAffected: activity.rowsAffected });
    services.sessions.remove(sessionId, end.reason);
    sessionEnded(services.metrics, end, log);
  };
  const relay = new Relay(client.source, upstream.source, onEnd, protocolFatal, {
    observer,
    clientStages: stages.client,
    // Last of the session's own: what it counts is what the client received.
    serverStages: [...stages.server, tally],
    maxClientMessage: services.config.listen.maxMessageBytes,
    activity,
    budget: services.budget,
    internalError: () => internalErrorFatal(sessionId),
    onGatewayEnd: () => cancelStatementUnderWay(activity, upstream, grant.connection, log),
  });
  services.sessions.add({
    id: sessionId,
    grant,
    clientUser: request.clientUser,
    clientAddress: client.address,
    startedAt: new Date(),
    activity,
    limits: admitted.limits,
    end: (reason, message, requester) => {
      // Who asked is kept even for a session recorded without its frames: it is the gateway's own act.
      if (requester !== undefined) {
        recorder.record('gateway', 'Terminated', { reason, by: requester.by, via: requester.via, from: requester.from });
      }
      relay.terminate(reason, exitFatal(reason, message));
    },
  });
  log.info({ clientUser: request.clientUser, tls: client.tls, entry: entryName(grant.rule), scope: grant.rule.scope }, 'session started');
  relay.start(clientLeftover, upstream.leftover);
}

/** How the session logged in, as an approval's pin and its dry run need it. */
function howItLoggedIn(admitted: Admitted): Pick<StageContext, 'readingSettings' | 'upstreamParameters'> {
  return { readingSettings: readingSettingsOf(admitted.request.settings), upstreamParameters: admitted.parameters };
}

/**
 * A statement under way when the gateway ends its session, for whatever reason, would run on after
 * the connection closed (the server notices only when it next writes to it), and a write would
 * commit: access ends at once only if the statement is cancelled too, with the server's own
 * CancelRequest. (A client that leaves by itself gets the server's own behaviour, as without the
 * gateway.)
 */
function cancelStatementUnderWay(activity: SessionActivity, upstream: UpstreamSession, target: ConnectionConfig, log: Logger): void {
  if (activity.state !== 'active' || upstream.backendKey === undefined) return;
  sendCancel(target, upstream.backendKey).catch((e: unknown) =>
    log.warn({ err: errorMessage(e) }, 'the statement of an ended session could not be cancelled upstream'),
  );
}

function recordAcceptedLogin(
  { services, sessionId }: SessionContext,
  grant: SessionGrant,
  clientUser: string,
  clientAddress: string,
): void {
  services.metrics.login(true, 'accepted');
  services.audit.loginAttempt({
    atUs: nowMicros(),
    accepted: true,
    reason: 'accepted',
    message: `granted by identity-map entry ${entryName(grant.rule)}`,
    sessionId,
    objectId: grant.identity.objectId,
    appId: grant.identity.appId,
    connection: grant.connection.name,
    clientUser,
    clientAddress,
  });
}

/** The client's login completes: AuthenticationOk, the server's startup frames, the gateway's own cancel key, ReadyForQuery. */
function welcome(stream: ClientStream, upstream: UpstreamSession, gatewayKey: { processId: number; secretKey: number } | undefined): void {
  stream.write(
    Buffer.concat([
      AUTHENTICATION_OK,
      ...upstream.startupFrames,
      ...(gatewayKey ? [encodeBackendKeyData(gatewayKey.processId, gatewayKey.secretKey)] : []),
      upstream.readyForQuery,
    ]),
  );
}

/** A session's end, counted and logged: a reply that fitted nothing forwarded is counted apart (0 expected). */
export function sessionEnded(metrics: Pick<GatewayServices['metrics'], 'replyOutOfSync'>, end: RelayEnd, log: Logger): void {
  if (end.error instanceof ProtocolError && end.error.code === 'reply-out-of-sync') metrics.replyOutOfSync();
  if (end.reason === 'internal-error') {
    log.error({ reason: end.reason, err: end.error?.stack ?? end.error?.message }, 'session ended by an internal error');
    return;
  }
  log.info(
    { reason: end.reason, bytesFromClient: end.bytesFromClient, bytesToClient: end.bytesToClient, err: end.error?.message },
    'session ended',
  );
}
