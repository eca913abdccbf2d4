import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importPKCS8,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { simulatorTls } from './entra-sim/certificates.js';
import { SimDirectory, type SimApplication } from './entra-sim/directory.js';
import { handleGraphRequest } from './entra-sim/graph-api.js';
import { json } from './entra-sim/http-util.js';
import {
  handleManagedIdentityRequest,
  handleTokenRequest,
  type ClientAuth,
  type TokenEndpointContext,
} from './entra-sim/token-endpoint.js';
import { errorMessage, InvariantError } from '../idgate-error.js';

export { READ_APPLICATIONS, READ_MEMBERSHIP } from './entra-sim/graph-api.js';
export type { SimApplication, SimGroup } from './entra-sim/directory.js';

/** The resource Azure Database for PostgreSQL accepts tokens for. */
export const OSSRDBMS_RESOURCE = 'https://ossrdbms-aad.database.windows.net';
const GRAPH_RESOURCE = 'https://graph.microsoft.com';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface MintOptions {
  /** Lifetime in seconds from now (negative for an already expired token). Default 3600. */
  readonly expiresIn?: number;
  /** Seconds from now before which the token is not valid. Default 0. */
  readonly notBefore?: number;
  /** Sign with a key that is not published in the JWKS. */
  readonly unpublishedKey?: boolean;
  /** Extra protected-header fields (e.g. a Graph-style `nonce`). */
  readonly header?: Record<string, unknown>;
}

export interface SimulatorOptions {
  /** Default: a fresh UUID. */
  readonly tenantId?: string;
  /**
   * The first signing key, an RSA private key (PKCS#8 PEM); made fresh when absent. The tests hand
   * the same one to every simulator of a run: making a 2048-bit RSA key costs about 0.2 s of CPU.
   */
  readonly signingKeyPem?: string;
}

export interface IssuedToken {
  readonly clientId: string;
  readonly resource: string;
  readonly token: string;
}

/**
 * A local Entra-compatible tenant over HTTPS on 127.0.0.1 with its own CA: OpenID metadata and
 * JWKS with key rotation, the v2 token endpoint (client credentials with a secret or a certificate
 * assertion, refusing disabled applications as Entra does), an App Service style managed-identity
 * endpoint, the Microsoft Graph calls the gateway makes, and admin calls (in process, and over
 * HTTP under /_admin for `idgate dev`). Tests and `idgate dev` use it where Microsoft's cloud
 * cannot be reached.
 */
export class EntraSimulator {
  readonly tenantId: string;
  readonly directory = new SimDirectory();
  /** The CA (PEM) a client must trust to reach the simulator. */
  readonly caCert: string;
  /** The header value a managed-identity request must carry (IDENTITY_HEADER). */
  readonly identityHeader = randomBytes(16).toString('hex');
  private keys: SigningKey[] = [];
  private readonly server: Server;
  private port = 0;
  jwksRequests = 0;
  graphRequests = 0;
  /** When false, the key set answers 503. */
  keysAvailable = true;
  /** When false, every Graph call answers 503 (an outage). */
  graphAvailable = true;
  /** Lifetime of tokens the token endpoint issues. */
  tokenLifetimeSeconds = 3600;
  /** Above this many groups a token carries the overage form instead of `groups` (Entra: 200). */
  groupsClaimLimit = 200;
  /** Every token the token endpoints issued, in order (tests read it). */
  readonly issued: IssuedToken[] = [];
  /** Runs before a token is handed out (a test can prepare what the token will be used for). */
  beforeIssue: ((issued: IssuedToken) => Promise<void>) | undefined;

  private constructor(tenantId: string, tls: { caCert: string; serverCert: string; serverKey: string }) {
    this.tenantId = tenantId;
    this.caCert = tls.caCert;
    this.server = createServer({ cert: tls.serverCert, key: tls.serverKey }, (req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) json(res, 500, { error: 'server_error' });
        else res.destroy();
      });
    });
  }

  static async start(options: SimulatorOptions = {}): Promise<EntraSimulator> {
    const sim = new EntraSimulator(options.tenantId ?? randomUUID(), await simulatorTls());
    sim.keys = [options.signingKeyPem === undefined ? await newSigningKey() : await signingKeyFrom(options.signingKeyPem)];
    await new Promise<void>((resolve) => sim.server.listen(0, '127.0.0.1', resolve));
    const address = sim.server.address();
    sim.port = typeof address === 'object' && address !== null ? address.port : 0;
    return sim;
  }

  /** The authority URL a gateway config points at: https://127.0.0.1:PORT */
  get authority(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  get issuer(): string {
    return `${this.authority}/${this.tenantId}/v2.0`;
  }

  /** Where this tenant's Microsoft Graph answers (`entra.graph.endpoint`). */
  get graphEndpoint(): string {
    return `${this.authority}/graph`;
  }

  /** The App Service managed-identity endpoint (IDENTITY_ENDPOINT). */
  get managedIdentityEndpoint(): string {
    return `${this.authority}/msi/token`;
  }

  get tokenEndpoint(): string {
    return `${this.authority}/${this.tenantId}/oauth2/v2.0/token`;
  }

  /** Adds a new signing key and makes it the one new tokens use; earlier keys stay published. */
  async rotateKeys(): Promise<string> {
    const key = await newSigningKey();
    this.keys = [key, ...this.keys];
    return key.kid;
  }

  /** Stops publishing every key but the newest. */
  retireOldKeys(): void {
    this.keys = this.keys.slice(0, 1);
  }

  /** A v2 app-only access token. Defaults: this tenant, a fresh oid/azp, `idtyp: app`, one hour. */
  async mint(claims: JWTPayload, options: MintOptions = {}): Promise<string> {
    const key = options.unpublishedKey ? await newSigningKey() : this.keys[0];
    if (key === undefined) throw new InvariantError('no signing key');
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.issuer,
      tid: this.tenantId,
      oid: randomUUID(),
      azp: randomUUID(),
      azpacr: '1',
      idtyp: 'app',
      ver: '2.0',
      uti: randomUUID().replace(/-/g, ''),
      iat: now,
      nbf: now + (options.notBefore ?? 0),
      exp: now + (options.expiresIn ?? 3600),
      ...claims,
    };
    return new SignJWT(payload).setProtectedHeader({ ...options.header, alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
  }

  /**
   * The claims Entra puts in an app-only token for this application: its service principal, the
   * roles granted to it, and its groups — or, past the limit, the overage pointer in their place.
   */
  appClaims(app: SimApplication, audience: string, auth: ClientAuth = 'secret'): JWTPayload {
    const groups = this.directory.memberOf(app.objectId);
    const overage = groups.length > this.groupsClaimLimit;
    return {
      aud: audience,
      oid: app.objectId,
      sub: app.objectId,
      azp: app.appId,
      azpacr: auth === 'secret' ? '1' : '2',
      roles: app.roles,
      ...(overage
        ? {
            _claim_names: { groups: 'src1' },
            _claim_sources: {
              src1: { endpoint: `https://graph.windows.net/${this.tenantId}/servicePrincipals/${app.objectId}/getMemberObjects` },
            },
          }
        : groups.length > 0
          ? { groups }
          : {}),
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.authority);
    const path = url.pathname;
    const prefix = `/${this.tenantId}`;
    if (req.method === 'GET' && path === `${prefix}/discovery/v2.0/keys`) {
      this.jwksRequests += 1;
      if (!this.keysAvailable) {
        json(res, 503, { error: 'temporarily_unavailable' });
        return;
      }
      json(res, 200, { keys: this.keys.map((k) => k.publicJwk) });
      return;
    }
    if (req.method === 'GET' && path === `${prefix}/v2.0/.well-known/openid-configuration`) {
      json(res, 200, this.openIdConfiguration());
      return;
    }
    if (req.method === 'POST' && path === `${prefix}/oauth2/v2.0/token`) return handleTokenRequest(this.tokenContext(), req, res);
    if (req.method === 'GET' && path === '/msi/token') {
      return handleManagedIdentityRequest(this.tokenContext(), this.identityHeader, req, res, url);
    }
    if (path.startsWith('/graph/')) {
      this.graphRequests += 1;
      if (!this.graphAvailable) {
        json(res, 503, { error: { code: 'serviceNotAvailable', message: 'Service unavailable.' } });
        return;
      }
      return handleGraphRequest(
        { directory: this.directory, verifyGraphToken: (t) => this.verifyGraphToken(t) },
        req,
        res,
        path.slice('/graph'.length),
        url,
      );
    }
    if (path.startsWith('/_admin/')) return this.handleAdmin(req, res, path);
    json(res, 404, { error: 'not_found' });
  }

  /** The v2 OpenID metadata document, with the fields msal-node reads as authority metadata. */
  openIdConfiguration(): Record<string, unknown> {
    const base = `${this.authority}/${this.tenantId}`;
    return {
      issuer: this.issuer,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      id_token_signing_alg_values_supported: ['RS256'],
      tenant_region_scope: 'EU',
    };
  }

  private tokenContext(): TokenEndpointContext {
    return {
      directory: this.directory,
      tokenEndpoint: this.tokenEndpoint,
      resourceFor: (scope) => this.resourceFor(scope),
      issue: (app, resource, auth) => this.issue(app, resource, auth),
    };
  }

  private resourceFor(scope: string): string | undefined {
    const resource =
      scope
        .trim()
        .split(/\s+/)[0]
        ?.replace(/\/\.default$/, '') ?? '';
    if (resource === GRAPH_RESOURCE || resource === this.graphEndpoint) return GRAPH_RESOURCE;
    if (resource === OSSRDBMS_RESOURCE) return OSSRDBMS_RESOURCE;
    return this.directory.api(resource) !== undefined ? resource : undefined;
  }

  private async issue(app: SimApplication, resource: string, auth: ClientAuth): Promise<{ token: string; expiresIn: number }> {
    // v2 tokens for an API name its client id; Graph and Azure PG tokens name the resource URI.
    const audience = this.directory.api(resource)?.appId ?? resource;
    const expiresIn = this.tokenLifetimeSeconds;
    const token = await this.mint(this.appClaims(app, audience, auth), {
      expiresIn,
      // Microsoft Graph's tokens carry a nonce header that makes them unverifiable for anyone else.
      ...(resource === GRAPH_RESOURCE ? { header: { nonce: randomBytes(16).toString('base64url') } } : {}),
    });
    const issued = { clientId: app.appId, resource, token };
    await this.beforeIssue?.(issued);
    this.issued.push(issued);
    return { token, expiresIn };
  }

  private async verifyGraphToken(token: string): Promise<JWTPayload | undefined> {
    try {
      const keys = createLocalJWKSet({ keys: this.keys.map((k) => k.publicJwk) });
      const { payload } = await jwtVerify(token, keys, { audience: GRAPH_RESOURCE, issuer: this.issuer });
      return payload;
    } catch {
      return undefined;
    }
  }

  /** Admin calls over HTTP, so a person trying `idgate dev` can disable the demo agent from a shell. */
  private async handleAdmin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const parts = path.split('/').slice(2);
    try {
      if (req.method === 'POST' && parts[0] === 'applications' && parts.length === 3 && (parts[2] === 'disable' || parts[2] === 'enable')) {
        this.directory.setEnabled(parts[1] ?? '', parts[2] === 'enable');
      } else if (
        parts[0] === 'groups' &&
        parts[2] === 'members' &&
        parts.length === 4 &&
        (req.method === 'POST' || req.method === 'DELETE')
      ) {
        if (req.method === 'POST') this.directory.addMember(parts[1] ?? '', parts[3] ?? '');
        else this.directory.removeMember(parts[1] ?? '', parts[3] ?? '');
      } else if (req.method === 'POST' && path === '/_admin/keys/rotate') {
        json(res, 200, { kid: await this.rotateKeys() });
        return;
      } else {
        json(res, 404, { error: 'not_found' });
        return;
      }
    } catch (e) {
      json(res, 404, { error: errorMessage(e) });
      return;
    }
    json(res, 200, { ok: true });
  }
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return withKid(privateKey);
}

async function signingKeyFrom(pem: string): Promise<SigningKey> {
  return withKid(await importPKCS8(pem, 'RS256', { extractable: true }));
}

/** A signing key under a kid of its own: a key handed in again is still a new key to the gateway. */
async function withKid(privateKey: CryptoKey): Promise<SigningKey> {
  const kid = randomUUID();
  const { n, e } = await exportJWK(privateKey);
  if (n === undefined || e === undefined) throw new InvariantError('an RSA key without its public half');
  return { kid, privateKey, publicJwk: { kty: 'RSA', n, e, kid, use: 'sig', alg: 'RS256' } };
}
