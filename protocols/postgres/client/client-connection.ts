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
import type { ReleaseSlot } from '../../../src/session/session-slots.js';
import { MessageQueue } from '../message-queue.js';
import { streamSource, type ReadSource } from '../read-source.js';
import { readShadowedBuiltins } from '../upstream/read-shadowed-builtins.js';
import type { OverloadLookups } from '../upstream/overload-lookups.js';
import { analysisContextFor, checkClientLexicalSettings } from '../policy/scoped-session.js';
import { parseScope } from '../../../src/config/scope.js';
import { fatal } from './session-exit.js';
import { loginUpstream, type UpstreamSession } from '../upstream/login-upstream.js';
import { forwardCancel } from '../cancel/forward-cancel.js';
import type { CancelKeys } from '../cancel/cancel-keys.js';
import { AUTHENTICATION_CLEARTEXT_PASSWORD, encodeNegotiateProtocolVersion } from '../wire/backend-messages.js';
import { Frontend } from '../wire/codes.js';
import { decodePasswordMessage } from '../wire/frontend-messages.js';
import { ProtocolError } from '../wire/protocol-error.js';
import type { StartupPacket } from '../wire/startup-packet.js';
import { negotiateTransport, type ClientStream } from './negotiate-transport.js';
import { gatewaySettings, managedSettingNames } from './session-settings.js';
import { toClientError, type ClientError } from './client-error.js';
import { runSession, type Admitted } from './run-session.js';
import { upstreamParameters } from './upstream-parameters.js';
import { checkStartupForScope, interpretStartupParameters, type StartupRequest } from './startup-parameters.js';

/** Entra tokens are several KB: the PasswordMessage gets more room than a startup packet. */
const MAX_PASSWORD_MESSAGE = 32 * 1024;
const MAX_PRE_AUTH_BUFFERED = 64 * 1024;

export interface ClientConnectionDeps {
  readonly services: GatewayServices;
  readonly cancelKeys: CancelKeys;
  readonly secureContext: SecureContext | undefined;
  readonly isAccepting: () => boolean;
  /** The connections' kept sessions that answer scoped logins' overload lookups. */
  readonly overloads: OverloadLookups;
}

type StartupMessage = Extract<StartupPacket, { kind: 'StartupMessage' }>;

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
      } else {
        this.queue.detach();
        const clientSource = this.tls ? streamSource(this.stream) : this.source;
        const at = { services: this.deps.services, cancelKeys: this.deps.cancelKeys, sessionId: this.sessionId, log: this.log };
        runSession(
          at,
          { stream: this.stream, source: clientSource, tls: this.tls, address: this.socket.remoteAddress ?? '' },
          admitted,
          this.queue.takeRemaining(),
        );
      }
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
      this.stream.end();
      const { processId, secretKey } = packet;
      const from = { processId, secretKey, source: this.socket.remoteAddress ?? '', fromClient: packet.kind === 'CancelRequest' };
      await forwardCancel(this.deps.services, this.deps.cancelKeys, from, this.log);
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
    // Asked now, beside the upstream login: a kept session's answer to a query that starts after this login began.
    const keptSession = !scope.all && grant.connection.overloadLookup === 'kept-session';
    const kept = keptSession ? this.deps.overloads.ask(grant.connection).catch(() => undefined) : undefined;
    const parameters = upstreamParameters(request.forwarded, scope, grant.connection.searchPath, settings);
    try {
      session = await loginUpstream(grant.connection, parameters, services.upstreamPasswords);
      if (scope.all) return { grant, scope, limits, request, parameters, session, analysis: undefined, releaseSlot };
      const context = await analysisContextFor(session.parameters, grant.connection.searchPath, managedSettingNames(settings));
      // What the session's search path overloads, known before anything of the client is relayed.
      const looked = await readShadowedBuiltins(session, grant.connection.connectTimeoutMs, context.parser.major, kept);
      session = looked.session;
      services.metrics.overloadLookup(grant.connection.name, looked.answeredBy);
      const analysis = { ...context, shadowed: looked.shadows };
      return { grant, scope, limits, request, parameters, session, analysis, releaseSlot };
    } catch (e) {
      session?.socket.destroy();
      releaseSlot();
      throw e;
    }
  }

  private takeSlot(grant: SessionGrant, limits: SessionLimits): ReleaseSlot {
    return this.deps.services.slots.acquire(grant, limits, (limit) => this.deps.services.metrics.limitReached(limit));
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
