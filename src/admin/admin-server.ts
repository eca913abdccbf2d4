import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { AdminConfig } from '../config/gateway-config.js';
import type { Logger } from '../logging/logger.js';
import type { Requester } from '../session/session-registry.js';
import { IdgateError } from '../idgate-error.js';
import type { AdminBackend } from './admin-backend.js';
import { ApprovalError } from '../approvals/approval-error.js';
import type { EntraApprovers } from '../approvals/entra-approvers.js';

const MAX_BODY = 4096;

/**
 * Bounds on what a caller who has not authenticated yet can hold: a request (TLS handshake,
 * headers and body) must arrive whole within `requestTimeoutMs`, and at most `maxConnections`
 * are open at once (past that, new connections are closed unanswered), so half-sent requests
 * cannot pile up file descriptors in the gateway.
 */
export interface AdminLimits {
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

export const ADMIN_LIMITS: AdminLimits = { requestTimeoutMs: 10_000, maxConnections: 64 };
/** Connections dropped at the cap are logged at most this often. */
const DROP_LOG_MS = 60_000;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TERMINATE = /^\/sessions\/([^/]+)\/terminate$/;
const DECIDE = /^\/approvals\/([^/]+)\/(approve|refuse)$/;
const APPROVAL_ID = /^[0-9a-f]{12}$/;

class HttpProblem extends IdgateError {
  constructor(
    readonly status: number,
    override readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The operator's HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, `GET /sessions`,
 * `POST /sessions/{id}/terminate`, `GET /approvals` and `POST /approvals/{id}/approve|refuse`. The probes answer anyone who can reach the port; everything
 * else needs the bearer token or a client certificate when either is configured. A browser page
 * cannot drive it: requests that carry an Origin are refused, and a terminate must be JSON, which
 * a cross-site form cannot send without a preflight the endpoint never grants.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly tokenDigest: Buffer | undefined;
  private dropsSinceLog = 0;
  private lastDropLog = -Infinity;

  constructor(
    private readonly config: AdminConfig,
    private readonly backend: AdminBackend,
    private readonly logger: Logger,
    limits: AdminLimits = ADMIN_LIMITS,
    /** `approvals.approver-groups`: people who may decide with their own Entra token. */
    private readonly approvers?: EntraApprovers,
  ) {
    this.tokenDigest = config.token && digest(config.token.reveal());
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, e));
    };
    // Node checks these timeouts only every `connectionsCheckingInterval` (30 s by default), which
    // let half-sent requests live three times as long as documented.
    const timeouts = {
      headersTimeout: limits.requestTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.requestTimeoutMs / 4)),
    };
    this.server = config.tls
      ? createHttpsServer(
          {
            ...timeouts,
            handshakeTimeout: limits.requestTimeoutMs,
            cert: config.tls.cert,
            key: config.tls.key,
            ...(config.tls.clientCa ? { ca: config.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
          },
          handler,
        )
      : createHttpServer(timeouts, handler);
    // The request timeouts start at a request's first byte: a connection that never sends one is
    // bounded by the socket's own inactivity timeout (destroyed, as no 'timeout' listener is set).
    this.server.timeout = limits.requestTimeoutMs;
    this.server.maxConnections = limits.maxConnections;
    this.server.on('drop', () => this.dropped(limits.maxConnections));
  }

  async listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.config.host, port: this.config.port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve({ host: this.config.host, port: typeof address === 'object' && address !== null ? address.port : this.config.port });
      });
    });
  }

  /** A connection was closed unanswered at the cap: say so, but not once per connection. */
  private dropped(cap: number): void {
    this.dropsSinceLog += 1;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_MS) return;
    this.logger.warn(
      { dropped: this.dropsSinceLog, maxConnections: cap },
      'admin endpoint at its connection cap: new connections closed unanswered',
    );
    this.dropsSinceLog = 0;
    this.lastDropLog = now;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.headers.origin !== undefined) throw new HttpProblem(403, 'cross-origin', 'requests from web pages are refused');
    if (!this.hostAllowed(req.headers.host)) throw new HttpProblem(403, 'wrong-host', 'the Host header must name this endpoint');
    if (req.method === 'GET' && path === '/healthz') {
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') return this.readyz(res);
    const decide = DECIDE.exec(path);
    if (path === '/approvals' || decide !== null) return this.approvals(req, res, path, decide);
    const via = this.authenticate(req);
    if (req.method === 'GET' && path === '/metrics') {
      const metrics = await this.backend.metrics();
      send(res, 200, metrics.contentType, metrics.text);
      return;
    }
    if (req.method === 'GET' && path === '/sessions') {
      sendJson(res, 200, { sessions: await this.backend.sessions() });
      return;
    }
    const terminate = TERMINATE.exec(path);
    if (req.method === 'POST' && terminate !== null) return this.terminate(req, res, terminate[1] ?? '', via);
    throw new HttpProblem(404, 'not-found', `no ${req.method ?? ''} ${path} here`);
  }

  /** `GET /approvals` and `POST /approvals/{id}/approve|refuse`: operators, and the people of `approvals.approver-groups`. */
  private async approvals(req: IncomingMessage, res: ServerResponse, path: string, decide: RegExpExecArray | null): Promise<void> {
    const caller = await this.approver(req);
    if (req.method === 'GET' && path === '/approvals') {
      sendJson(res, 200, { approvals: await this.backend.approvals() });
      return;
    }
    if (req.method === 'POST' && decide !== null) return this.decide(req, res, decide[1] ?? '', decide[2] === 'approve', caller);
    throw new HttpProblem(404, 'not-found', `no ${req.method ?? ''} ${path} here`);
  }

  /**
   * Who may see and answer approval requests: whoever may use the endpoint, or a person of the
   * approver groups by their own Entra token (a bearer that is not the admin token, on a
   * connection without a client certificate). Such a person is recorded by their token's name.
   */
  private async approver(req: IncomingMessage): Promise<Caller> {
    const bearer = bearerOf(req);
    const certificate = this.config.tls?.clientCa === undefined ? undefined : verifiedPeerCertificate(req.socket as Partial<TLSSocket>);
    if (this.approvers === undefined || bearer === '' || certificate !== undefined || this.isAdminToken(bearer)) {
      return { via: this.authenticate(req) };
    }
    try {
      const person = await this.approvers.identify(bearer);
      return { via: `entra-user:${person.objectId}`, by: person.name, approverId: person.objectId };
    } catch (e) {
      if (e instanceof ApprovalError) throw new HttpProblem(e.code === 'approver-token-refused' ? 401 : 403, e.code, e.message);
      throw e;
    }
  }

  private isAdminToken(token: string): boolean {
    return this.tokenDigest !== undefined && timingSafeEqual(digest(token), this.tokenDigest);
  }

  private async readyz(res: ServerResponse): Promise<void> {
    const checks = await this.backend.readiness();
    const ready = checks.every((c) => c.ok);
    sendJson(res, ready ? 200 : 503, { ready, checks });
  }

  private async terminate(req: IncomingMessage, res: ServerResponse, id: string, via: string): Promise<void> {
    if (!SESSION_ID.test(id)) throw new HttpProblem(400, 'bad-session-id', 'a session id is a lower-case UUID');
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpProblem(415, 'json-required', 'send Content-Type: application/json');
    }
    const body = await readJson(req);
    const by = typeof body['by'] === 'string' && body['by'] !== '' ? body['by'].slice(0, 200) : 'unknown';
    const requester: Requester = { by, via, from: req.socket.remoteAddress ?? '' };
    if (!(await this.backend.terminate(id, requester))) throw new HttpProblem(404, 'no-such-session', `no live session ${id}`);
    this.logger.info({ sessionId: id, requestedBy: by, via, from: requester.from }, 'session terminated by an administrator');
    sendJson(res, 200, { terminated: id });
  }

  /**
   * A person's answer to a statement held for approval. Only a caller of the admin endpoint can
   * answer, and agents' Entra tokens do not open it: an agent cannot approve its own request.
   */
  private async decide(req: IncomingMessage, res: ServerResponse, id: string, approve: boolean, caller: Caller): Promise<void> {
    const { via } = caller;
    if (via === 'loopback') {
      // Without a token or certificates anyone on this host is let in — an agent running here too.
      throw new HttpProblem(
        403,
        'approver-unauthenticated',
        'deciding on an approval needs admin.token-env/-file or client certificates: a loopback caller could be the agent itself',
      );
    }
    if (!APPROVAL_ID.test(id)) throw new HttpProblem(400, 'bad-approval-id', 'an approval id is 12 lower-case hex digits');
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpProblem(415, 'json-required', 'send Content-Type: application/json');
    }
    const body = await readJson(req);
    // A person proved by their Entra token is who their token says, whatever the body claims.
    const by = caller.by ?? (typeof body['by'] === 'string' && body['by'] !== '' ? body['by'].slice(0, 200) : 'unknown');
    const reason = typeof body['reason'] === 'string' ? body['reason'].slice(0, 1000) : '';
    if (reason.trim() === '') throw new HttpProblem(400, 'reason-required', 'a decision needs a reason: {"reason": "…"}');
    const from = req.socket.remoteAddress ?? '';
    let view;
    try {
      view = await this.backend.decide(id, {
        approve,
        by,
        via,
        from,
        reason,
        ...(caller.approverId !== undefined ? { approverId: caller.approverId } : {}),
      });
    } catch (e) {
      if (e instanceof ApprovalError) throw new HttpProblem(409, e.code, e.message);
      throw e;
    }
    if (view === undefined) throw new HttpProblem(404, 'no-such-approval', `no approval request ${id} here`);
    this.logger.info(
      { approvalId: id, approve, decidedBy: by, via, from, reason },
      approve ? 'statement approved' : 'statement refused by an approver',
    );
    sendJson(res, 200, { approval: view });
  }

  /**
   * Without a token or client certificates, being on loopback is the only check: a web page whose
   * name was rebound to 127.0.0.1 (DNS rebinding) is same-origin and sends no Origin on a GET, but
   * its Host header still carries its own name, so only loopback names and the configured host pass.
   */
  private hostAllowed(host: string | undefined): boolean {
    if (this.tokenDigest !== undefined || this.config.tls?.clientCa !== undefined) return true;
    const name = (host ?? '')
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1')
      .toLowerCase();
    return name === 'localhost' || name === '::1' || name === this.config.host.toLowerCase() || /^127\.\d+\.\d+\.\d+$/.test(name);
  }

  /** How the caller proved itself (or `loopback` when nothing is configured and the port is loopback-only). */
  private authenticate(req: IncomingMessage): string {
    const certificate = this.config.tls?.clientCa === undefined ? undefined : verifiedPeerCertificate(req.socket as Partial<TLSSocket>);
    if (certificate !== undefined) return `client-certificate:${[certificate.subject.CN ?? '?'].flat().join(',')}`;
    if (this.isAdminToken(bearerOf(req))) return 'bearer-token';
    if (this.tokenDigest === undefined && this.config.tls?.clientCa === undefined) return 'loopback';
    throw new HttpProblem(401, 'unauthorized', 'send the admin token as Authorization: Bearer …, or a client certificate');
  }

  private fail(res: ServerResponse, e: unknown): void {
    if (e instanceof HttpProblem) {
      if (e.status === 401) res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, e.status, { error: e.code, message: e.message });
      return;
    }
    this.logger.error({ err: e instanceof Error ? (e.stack ?? e.message) : String(e) }, 'admin endpoint failed');
    sendJson(res, 500, { error: 'internal', message: 'internal error in the admin endpoint (see the gateway log)' });
  }
}

/**
 * The client certificate the CA verified on this connection, or undefined. `authorized` alone is
 * not proof: Node reports a TLS 1.3 session resumed by a client that never sent a certificate as
 * authorized, with no peer certificate (nodejs/node#35317) — a caller could skip client
 * authentication by reconnecting. A certificate must be there too.
 */
function verifiedPeerCertificate(socket: Partial<TLSSocket>): PeerCertificate | undefined {
  if (socket.authorized !== true) return undefined;
  const certificate = socket.getPeerCertificate?.();
  // With no certificate Node returns `{}`, whatever its type says.
  const raw = (certificate as Partial<PeerCertificate> | undefined)?.raw;
  return certificate !== undefined && raw !== undefined && raw.length > 0 ? certificate : undefined;
}

/** The caller of an approvals path: how they proved themselves, and who they are when their token said so. */
interface Caller {
  readonly via: string;
  readonly by?: string;
  readonly approverId?: string;
}

function bearerOf(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

/** Compared as digests, so the comparison takes the same time whatever the length sent. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  // Answered before the body came whole (refused, or a body where none is read): Node would keep
  // waiting for the rest with no timeout at all, so the connection ends with the answer.
  if (!res.req.complete) res.setHeader('connection', 'close');
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', `${JSON.stringify(value)}\n`);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpProblem(413, 'body-too-large', `the body may hold at most ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpProblem(400, 'bad-json', 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpProblem(400, 'bad-json', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
