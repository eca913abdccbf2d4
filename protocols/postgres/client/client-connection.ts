import { randomUUID } from 'node:crypto';
import { nowMicros } from '../../../src/audit/audit-event.js';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { AccessError } from '../../../src/access-error.js';
import type { Logger } from '../../../src/logging/logger.js';
import type { GatewayServices } from '../../../src/protocol.js';
import type { SessionGrant } from '../../../src/policy/session-grant.js';
import type { SessionLimits } from '../../../src/config/gateway-config.js';
import { effectiveLimits } from '../../../src/policy/effective-limits.js';
import { SessionActivity } from '../../../src/session/session-activity.js';
import type { ReleaseSlot } from '../../../src/session/session-slots.js';
import { MessageQueue } from '../message-queue.js';
import { streamSource, type ReadSource } from '../read-source.js';
import type { AnalysisContext } from '../policy/analyze-sql.js';
import { analysisContextFor, checkClientLexicalSettings, pinnedStartupSettings } from '../policy/scoped-session.js';
import { RowCap } from '../policy/row-cap.js';
import { StatementGate } from '../policy/statement-gate.js';
import { PostgresRecorder } from '../recording/postgres-recorder.js';
import { isReadOnly, parseScope, type Scope } from '../../../src/config/scope.js';
import { Relay, type RelayEnd } from '../relay.js';
import { exitFatal, fatal, internalErrorFatal, internalErrorMessage, INTERNAL_ERROR_SQLSTATE, protocolFatal } from './session-exit.js';
import { loginUpstream, type UpstreamSession } from '../upstream/login-upstream.js';
import { cancelHeld } from './cancel-held.js';
import { cancelAtPeers } from './peer-cancel.js';
import {
  AUTHENTICATION_CLEARTEXT_PASSWORD,
  AUTHENTICATION_OK,
  encodeBackendKeyData,
  encodeNegotiateProtocolVersion,
} from '../wire/backend-messages.js';
import { Frontend } from '../wire/codes.js';
import { decodePasswordMessage } from '../wire/frontend-messages.js';
import { ProtocolError } from '../wire/protocol-error.js';
import type { StartupPacket } from '../wire/startup-packet.js';
import type { CancelKeys } from './cancel-keys.js';
import { negotiateTransport, type ClientStream } from './negotiate-transport.js';
import { sessionHeader } from './session-header.js';
import { gatewaySettings, managedSettingNames, pinnedApplicationName } from './session-settings.js';
import { sqlstateForAccess, sqlstateForProtocol } from './sqlstate.js';
import { checkStartupForScope, interpretStartupParameters, type StartupRequest } from './startup-parameters.js';

/** Entra tokens are several KB: the PasswordMessage gets more room than a startup packet. */
const MAX_PASSWORD_MESSAGE = 32 * 1024;
const MAX_PRE_AUTH_BUFFERED = 64 * 1024;

export interface ClientConnectionDeps {
  readonly services: GatewayServices;
  readonly cancelKeys: CancelKeys;
  readonly secureContext: SecureContext | undefined;
  readonly isAccepting: () => boolean;
}

type StartupMessage = Extract<StartupPacket, { kind: 'StartupMessage' }>;

interface Admitted {
  readonly grant: SessionGrant;
  readonly scope: Scope;
  readonly limits: SessionLimits;
  readonly request: StartupRequest;
  readonly session: UpstreamSession;
  readonly analysis: AnalysisContext | undefined;
  readonly releaseSlot: ReleaseSlot;
}

/**
 * One client connection from its first byte to its end: encryption negotiation, the token
 * exchange, authorisation, the upstream login, then the relay. Pre-authentication input is
 * bounded in size and in time (the auth timeout), and every refusal reaches the client as an
 * ErrorResponse with a SQLSTATE.
 */
export class ClientConnection {
  private readonly log: Logger;
  private readonly queue = new MessageQueue(MAX_PASSWORD_MESSAGE, MAX_PRE_AUTH_BUFFERED);
  private stream: ClientStream;
  private tls = false;
  private refused = false;
  /** What the client asked for, once its StartupMessage is read (for the audit of a refusal). */
  private request: StartupRequest | undefined;
  /** Chosen before the upstream login, which carries it (`idgate.session_id`). */
  private readonly sessionId = randomUUID();
  /** The client sent a startup packet (a client that leaves before one is closed silently, as Postgres does). */
  private startupReceived = false;

  constructor(
    private readonly socket: Socket,
    /** Where the plain connection's bytes arrive (its own read buffer when it has one). */
    private readonly source: ReadSource,
    private readonly deps: ClientConnectionDeps,
  ) {
    this.stream = socket;
    this.log = deps.services.logger.child({ client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` });
  }

  async run(): Promise<void> {
    this.socket.setNoDelay(true);
    this.queue.attach(this.source);
    const timer = setTimeout(
      () => this.refuse(new AccessError('auth-timeout', 'authentication timed out')),
      this.deps.services.config.listen.authTimeoutMs,
    );
    try {
      const admitted = await this.handshake();
      clearTimeout(timer);
      if (admitted === undefined) return;
      // The client may have gone, or timed out, while the upstream login was under way.
      if (this.refused || this.stream.destroyed) {
        admitted.session.socket.destroy();
        admitted.releaseSlot();
      } else this.startRelay(admitted);
    } catch (e) {
      clearTimeout(timer);
      this.refuse(e);
    }
  }

  private async handshake(): Promise<Admitted | undefined> {
    const negotiated = await negotiateTransport(this.socket, this.queue, this.deps.secureContext, (secure) => {
      this.stream = secure;
      this.tls = true;
    });
    this.stream = negotiated.stream;
    this.tls = negotiated.tls;
    this.startupReceived = true;
    const packet = negotiated.packet;
    if (packet.kind === 'CancelRequest' || packet.kind === 'PeerCancelRequest') {
      await this.forwardCancel(packet.processId, packet.secretKey, packet.kind === 'CancelRequest');
      return undefined;
    }
    const request = this.acceptStartup(packet);
    const token = await this.askForToken();
    const { services } = this.deps;
    const grant = await services.authority.authorize(token, request.connectionName);
    const scope = parseScope(grant.rule.scope, grant.connection.searchPath);
    checkStartupForScope(request, scope.all);
    if (!scope.all) checkClientLexicalSettings(request.settings);
    const limits = effectiveLimits(services.config.limits, grant);
    const releaseSlot = this.takeSlot(grant, limits);
    const settings = gatewaySettings(this.sessionId, grant, limits, request.settings);
    let session: UpstreamSession | undefined;
    try {
      session = await loginUpstream(
        grant.connection,
        upstreamParameters(request.forwarded, scope, grant.connection.searchPath, settings),
        services.upstreamPasswords,
      );
      const analysis = scope.all
        ? undefined
        : await analysisContextFor(session.parameters, grant.connection.searchPath, managedSettingNames(settings));
      return { grant, scope, limits, request, session, analysis, releaseSlot };
    } catch (e) {
      session?.socket.destroy();
      releaseSlot();
      throw e;
    }
  }

  private takeSlot(grant: SessionGrant, limits: SessionLimits): ReleaseSlot {
    try {
      return this.deps.services.slots.acquire(grant, limits);
    } catch (e) {
      this.deps.services.metrics.limitReached('max-sessions');
      throw e;
    }
  }

  private acceptStartup(packet: StartupMessage): StartupRequest {
    const request = interpretStartupParameters(packet.parameters);
    this.request = request;
    if (packet.minorVersion > 0 || request.unsupportedOptions.length > 0) {
      this.stream.write(encodeNegotiateProtocolVersion(0, request.unsupportedOptions));
    }
    if (!this.deps.isAccepting()) throw new AccessError('shutting-down', 'the gateway is shutting down');
    if (!this.tls && !this.deps.services.config.listen.allowPlaintext) {
      throw new AccessError('encryption-required', 'the gateway accepts tokens only over TLS');
    }
    return request;
  }

  private async askForToken(): Promise<string> {
    this.stream.write(AUTHENTICATION_CLEARTEXT_PASSWORD);
    const message = await this.queue.typed();
    if (message.code !== Frontend.PasswordMessage) {
      throw new ProtocolError('unexpected-message', `expected a password message, got message type ${message.code}`);
    }
    return decodePasswordMessage(message.body);
  }

  private startRelay({ grant, scope, limits, request, session: upstream, analysis, releaseSlot }: Admitted): void {
    const sessionId = this.sessionId;
    const { services, cancelKeys } = this.deps;
    const log = this.log.child({
      sessionId,
      connection: grant.connection.name,
      identity: grant.identity.objectId,
      appId: grant.identity.appId,
    });
    const clientAddress = this.socket.remoteAddress ?? '';
    const recorder = services.audit.startSession(
      sessionHeader(sessionId, grant, request.clientUser, clientAddress, this.tls),
      grant.rule.record,
    );
    services.metrics.login(true, 'accepted');
    services.audit.loginAttempt({
      atUs: nowMicros(),
      accepted: true,
      reason: 'accepted',
      message: `granted by identity-map entry ${grant.rule.index}`,
      sessionId,
      objectId: grant.identity.objectId,
      appId: grant.identity.appId,
      connection: grant.connection.name,
      clientUser: request.clientUser,
      clientAddress,
    });
    const observer = recorder.recordsFrames ? new PostgresRecorder(recorder) : undefined;
    const gate =
      analysis === undefined
        ? undefined
        : new StatementGate(scope, analysis, {
            pinnedApplicationName: (asked) => pinnedApplicationName(grant, asked),
            denied: (sql, denial) => {
              services.metrics.scopeDenied(grant.connection.name, grant.rule.index);
              log.info({ reason: denial.message, sqlstate: denial.sqlstate, scope: scope.text }, 'statement denied by scope');
              if (recorder.recordsFrames) {
                recorder.record('gateway', 'Denied', { sql, reason: denial.message, sqlstate: denial.sqlstate });
              }
            },
            lexicalStateChanged: (problem) => {
              log.warn({ reason: 'lexical-state-changed', problem }, 'ending session: the server changed how it reads statements');
              // After the server's chunk in hand is relayed; the gate already refuses every further statement.
              queueMicrotask(() =>
                relay.terminate('lexical-state-changed', exitFatal('lexical-state-changed', `terminating connection: ${problem}`)),
              );
            },
          });
    const gatewayKey =
      upstream.backendKey &&
      cancelKeys.issue({
        target: grant.connection,
        upstreamKey: upstream.backendKey,
        sessionId,
        ...(observer ? { onCancel: () => observer.onCancelRequest() } : {}),
      });
    const activity = new SessionActivity();
    this.queue.detach();
    this.stream.write(
      Buffer.concat([
        AUTHENTICATION_OK,
        ...upstream.startupFrames,
        ...(gatewayKey ? [encodeBackendKeyData(gatewayKey.processId, gatewayKey.secretKey)] : []),
        upstream.readyForQuery,
      ]),
    );
    const relay = new Relay(this.tls ? streamSource(this.stream) : this.source, upstream.source, (end) => onEnd(end), protocolFatal, {
      observer,
      clientStages: gate === undefined ? [] : [gate.clientStage],
      serverStages: [
        ...(gate === undefined ? [] : [gate.serverStage]),
        ...(limits.maxRows === undefined
          ? []
          : [
              new RowCap(limits.maxRows, () => {
                services.metrics.limitReached('max-rows');
                log.info({ maxRows: limits.maxRows }, 'result truncated by max-rows');
                // The gateway's own act: kept even for a session recorded without its frames.
                recorder.record('gateway', 'RowsCapped', { maxRows: limits.maxRows });
              }),
            ]),
      ],
      maxClientMessage: services.config.listen.maxMessageBytes,
      activity,
      budget: services.budget,
      internalError: () => internalErrorFatal(sessionId),
    });
    const onEnd = (end: RelayEnd): void => {
      if (gatewayKey) cancelKeys.release(gatewayKey);
      releaseSlot();
      recorder.end({ reason: end.reason, bytesFromClient: end.bytesFromClient, bytesToClient: end.bytesToClient });
      if (end.error instanceof ProtocolError && end.error.code === 'reply-out-of-sync') services.metrics.replyOutOfSync();
      services.sessions.remove(sessionId, end.reason);
      if (end.reason === 'internal-error') {
        log.error({ reason: end.reason, err: end.error?.stack ?? end.error?.message }, 'session ended by an internal error');
      } else {
        log.info(
          { reason: end.reason, bytesFromClient: end.bytesFromClient, bytesToClient: end.bytesToClient, err: end.error?.message },
          'session ended',
        );
      }
    };
    services.sessions.add({
      id: sessionId,
      grant,
      clientUser: request.clientUser,
      clientAddress,
      startedAt: new Date(),
      activity,
      limits,
      end: (reason, message, requester) => {
        // Who asked is kept even for a session recorded without its frames: it is the gateway's own act.
        if (requester !== undefined) {
          recorder.record('gateway', 'Terminated', { reason, by: requester.by, via: requester.via, from: requester.from });
        }
        relay.terminate(reason, exitFatal(reason, message));
      },
    });
    log.info({ clientUser: request.clientUser, tls: this.tls, mapping: grant.rule.index, scope: grant.rule.scope }, 'session started');
    relay.start(this.queue.takeRemaining(), upstream.leftover);
  }

  /**
   * A CancelRequest for a session this gateway holds goes upstream with the upstream's own key; one
   * for a session it does not hold is passed to the fleet's peers (a peer's own request is not
   * passed on again), so a cancel that reaches the wrong node still lands.
   */
  private async forwardCancel(processId: number, secretKey: number, fromClient: boolean): Promise<void> {
    this.stream.end();
    const { cancelGuard, metrics } = this.deps.services;
    const source = this.socket.remoteAddress ?? '';
    if (!cancelGuard.admit(source)) {
      metrics.cancelRequest('dropped');
      return;
    }
    if (await cancelHeld(this.deps.cancelKeys, processId, secretKey, this.log)) {
      metrics.cancelRequest('forwarded');
      return;
    }
    // Another worker of this gateway may hold it: they count as this node, so a peer's request goes to them too.
    if ((await this.deps.services.siblings?.cancel(processId, secretKey)) === true) {
      metrics.cancelRequest('forwarded');
      this.log.info({ fromPeer: !fromClient }, 'cancel request passed to the sibling worker that holds the session');
      return;
    }
    const { peers, peerTimeoutMs } = this.deps.services.config;
    if (!fromClient || peers.length === 0) {
      // Not held anywhere this node can see: a wrong key, counted against the source's guessing limit.
      cancelGuard.wrongKey(source);
      metrics.cancelRequest('unknown-key');
      this.log.info({ fromPeer: !fromClient }, 'cancel request with an unknown key ignored');
      return;
    }
    // A peer may hold it; if none does, it was a guess all the same: it counts against the source here.
    cancelGuard.wrongKey(source);
    metrics.cancelRequest('forwarded');
    const told = await cancelAtPeers(peers, processId, secretKey, peerTimeoutMs);
    this.log.info({ peers: peers.length, reached: told }, 'cancel request for a session not held here passed to the fleet’s peers');
  }

  /** One way out for every refusal: an ErrorResponse with a SQLSTATE, a log line, and the connection closed. */
  private refuse(e: unknown): void {
    if (this.refused) return;
    this.refused = true;
    this.queue.fail(new ProtocolError('truncated', 'connection refused'));
    const error = toClientError(e, this.sessionId);
    this.deps.services.metrics.login(false, error.code);
    this.recordRefusal(error, e);
    if (this.stream.destroyed) return;
    if (!this.startupReceived && e instanceof ProtocolError && (e.code === 'truncated' || e.code === 'client-left')) {
      // Like Postgres: a client that goes away before its startup packet gets no answer.
      this.log.debug({ code: error.code }, 'client left before its startup packet');
      this.stream.destroy();
      return;
    }
    if (error.internal) this.log.error({ err: error.logDetail, sessionId: this.sessionId }, 'internal error during login');
    else this.log.info({ code: error.code, reason: error.message, detail: error.logDetail }, 'login refused');
    this.stream.end(fatal(error.sqlstate, error.message, error.detail));
    setTimeout(() => this.stream.destroy(), 1000).unref();
  }

  private recordRefusal(error: ClientError, cause: unknown): void {
    const subject = cause instanceof AccessError ? cause.subject : undefined;
    this.deps.services.audit.loginAttempt({
      atUs: nowMicros(),
      accepted: false,
      reason: error.code,
      message: error.message,
      ...(subject ? { objectId: subject.objectId, appId: subject.appId } : {}),
      ...(this.request ? { connection: this.request.connectionName, clientUser: this.request.clientUser } : {}),
      clientAddress: this.socket.remoteAddress ?? '',
    });
  }
}

/**
 * What the upstream session starts with besides the client's harmless settings. A scoped session
 * gets the connection's search_path, so an unqualified table is where the scope check took it to
 * be; a scope that cannot write also runs read-only, so Postgres itself stops a write a function
 * would do (switching either off is denied by the scope check).
 */
function upstreamParameters(
  forwarded: ReadonlyMap<string, string>,
  scope: Scope,
  searchPath: string,
  gatewaySet: ReadonlyMap<string, string>,
): ReadonlyMap<string, string> {
  const parameters = new Map(forwarded);
  // The gateway's own values replace the client's under any spelling of the name; the packet's settings win over `options`.
  for (const name of [...parameters.keys()]) if (gatewaySet.has(name.toLowerCase())) parameters.delete(name);
  for (const [name, value] of gatewaySet) parameters.set(name, value);
  if (scope.all) return parameters;
  parameters.set('search_path', searchPath);
  // The pinned values replace the client's under any spelling of the name (options come before the packet's settings, which win).
  for (const name of [...parameters.keys()]) if (pinnedStartupSettings().has(name.toLowerCase())) parameters.delete(name);
  for (const [name, value] of pinnedStartupSettings()) parameters.set(name, value);
  if (isReadOnly(scope)) parameters.set('default_transaction_read_only', 'on');
  return parameters;
}

interface ClientError {
  readonly code: string;
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly logDetail?: string;
  readonly internal: boolean;
}

function toClientError(e: unknown, sessionId: string): ClientError {
  if (e instanceof AccessError) {
    return {
      code: e.code,
      sqlstate: sqlstateForAccess(e.code),
      message: e.message,
      ...(e.detail ? { detail: e.detail } : {}),
      ...(e.internalDetail ? { logDetail: e.internalDetail } : {}),
      internal: false,
    };
  }
  if (e instanceof ProtocolError) return { code: e.code, sqlstate: sqlstateForProtocol(e.code), message: e.message, internal: false };
  return {
    code: 'internal',
    sqlstate: INTERNAL_ERROR_SQLSTATE,
    message: internalErrorMessage(sessionId),
    logDetail: e instanceof Error ? (e.stack ?? e.message) : String(e),
    internal: true,
  };
}
