import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

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

/**
 * A local Entra-compatible token issuer: per-tenant OpenID metadata and JWKS over HTTP on
 * 127.0.0.1, and v2 app-only access tokens with any claims. The tests and `idgate dev` use it
 * where Microsoft's cloud cannot be reached.
 */
export class EntraSimulator {
  readonly tenantId: string;
  private keys: SigningKey[] = [];
  private readonly server: Server;
  private port = 0;
  jwksRequests = 0;

  private constructor(tenantId: string) {
    this.tenantId = tenantId;
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(tenantId: string = randomUUID()): Promise<EntraSimulator> {
    const sim = new EntraSimulator(tenantId);
    await sim.rotateKeys();
    await new Promise<void>((resolve) => sim.server.listen(0, '127.0.0.1', resolve));
    const address = sim.server.address();
    sim.port = typeof address === 'object' && address !== null ? address.port : 0;
    return sim;
  }

  /** The authority URL a gateway config points at: http://127.0.0.1:PORT */
  get authority(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get issuer(): string {
    return `${this.authority}/${this.tenantId}/v2.0`;
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
    if (key === undefined) throw new Error('no signing key');
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

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', this.authority).pathname;
    const prefix = `/${this.tenantId}`;
    if (req.method === 'GET' && path === `${prefix}/discovery/v2.0/keys`) {
      this.jwksRequests += 1;
      return json(res, 200, { keys: this.keys.map((k) => k.publicJwk) });
    }
    if (req.method === 'GET' && path === `${prefix}/v2.0/.well-known/openid-configuration`) {
      return json(res, 200, {
        issuer: this.issuer,
        jwks_uri: `${this.authority}${prefix}/discovery/v2.0/keys`,
        token_endpoint: `${this.authority}${prefix}/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    json(res, 404, { error: 'not_found' });
  }
}

async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256', kty: 'RSA' } };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
