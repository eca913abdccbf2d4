import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AccessError, type AccessErrorCode } from '../access-error.js';
import type { EntraConfig } from '../config/gateway-config.js';
import { acceptedIssuers } from './jwks-url.js';
import type { VerifiedIdentity } from './verified-identity.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** What an approver's token says of them. */
export interface ApproverToken {
  readonly objectId: string;
  /** Their sign-in name (`preferred_username`, `upn`), else display name, else object id. */
  readonly name: string;
  /** An application's own token (an agent), not a person's. */
  readonly appOnly: boolean;
  readonly groups: readonly string[];
  readonly groupsOverage: boolean;
}

/** Entra tokens are a few KB; anything far larger is not a token and is not worth parsing. */
const MAX_TOKEN_LENGTH = 32 * 1024;

/**
 * Verifies Entra access tokens for this gateway: RS256 against the tenant's key set, issuer,
 * tenant, audience, lifetime, app-only. Every refusal is an AccessError whose message says why
 * and never repeats the token.
 */
export class TokenVerifier {
  private readonly cache = new VerifiedTokenCache();
  private readonly issuers: string[];

  constructor(
    private readonly entra: EntraConfig,
    /** The tenant's signing keys (SigningKeys.getKey). */
    private readonly keys: JWTVerifyGetKey,
  ) {
    this.issuers = acceptedIssuers(entra.authority, entra.tenantId);
  }

  /** Tokens signed with these keys are verified afresh (and so refused) from now on. */
  forgetKeys(kids: ReadonlySet<string>): void {
    this.cache.dropKeys(kids);
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw refuse('token-malformed', 'the password is not an access token');
    const key = VerifiedTokenCache.keyOf(token);
    const cached = this.cache.get(key, Date.now() / 1000 - this.entra.clockSkewSeconds);
    if (cached !== undefined) return cached;
    const keyId = this.checkHeader(token);
    const payload = await this.verifySignatureAndClaims(token);
    const identity = this.toIdentity(payload, keyId);
    this.cache.set(key, identity);
    return identity;
  }

  /**
   * A token of someone deciding on an approval: verified like an agent's (signature, issuer,
   * tenant, audience, lifetime), but not cached and whether it is app-only is told, not refused.
   */
  async verifyApprover(token: string): Promise<ApproverToken> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw refuse('token-malformed', 'not an access token');
    this.checkHeader(token);
    const p = await this.verifySignatureAndClaims(token);
    if (stringClaim(p, 'tid').toLowerCase() !== this.entra.tenantId) {
      throw refuse('token-wrong-tenant', 'token was issued for another tenant');
    }
    const objectId = stringClaim(p, 'oid').toLowerCase();
    return {
      objectId,
      name: optionalString(p, 'preferred_username') ?? optionalString(p, 'upn') ?? optionalString(p, 'name') ?? objectId,
      appOnly: isAppOnly(p),
      groups: stringArrayClaim(p, 'groups').map((g) => g.toLowerCase()),
      groupsOverage: hasGroupsOverage(p),
    };
  }

  /** Returns the token's key id. */
  private checkHeader(token: string): string {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw refuse('token-malformed', 'the password is not a JWT access token');
    }
    if ('nonce' in header) {
      throw refuse('token-unverifiable', 'token has a nonce header (a Microsoft Graph token?): request a token for this gateway');
    }
    if (header.alg !== 'RS256') throw refuse('token-wrong-algorithm', `token algorithm ${String(header.alg)} is not allowed (RS256 only)`);
    if (typeof header.kid !== 'string' || header.kid === '') throw refuse('token-malformed', 'token header names no signing key (kid)');
    return header.kid;
  }

  private async verifySignatureAndClaims(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        issuer: this.issuers,
        audience: [...this.entra.audiences],
        clockTolerance: this.entra.clockSkewSeconds,
        requiredClaims: ['exp', 'tid', 'oid'],
      });
      return payload;
    } catch (e) {
      throw joseToAccessError(e);
    }
  }

  /** The token's audience that is one of ours (jose has checked there is one). */
  private matchedAudience(p: JWTPayload): string {
    const aud = typeof p.aud === 'string' ? [p.aud] : (p.aud ?? []);
    return aud.find((a) => this.entra.audiences.includes(a)) ?? '';
  }

  private toIdentity(p: JWTPayload, keyId: string): VerifiedIdentity {
    const tenantId = stringClaim(p, 'tid').toLowerCase();
    if (tenantId !== this.entra.tenantId) throw refuse('token-wrong-tenant', 'token was issued for another tenant');
    if (!this.entra.allowUserTokens && !isAppOnly(p)) {
      throw refuse('token-not-app-only', 'token is a delegated (user) token; app-only tokens are required');
    }
    const appId = optionalString(p, 'azp') ?? optionalString(p, 'appid');
    if (appId === undefined) throw refuse('token-malformed', 'token carries neither azp nor appid');
    const displayName = optionalString(p, 'app_displayname') ?? optionalString(p, 'name');
    return {
      objectId: stringClaim(p, 'oid').toLowerCase(),
      appId: appId.toLowerCase(),
      tenantId,
      groups: stringArrayClaim(p, 'groups').map((g) => g.toLowerCase()),
      roles: stringArrayClaim(p, 'roles'),
      ...(displayName !== undefined ? { displayName } : {}),
      expiresAt: p.exp ?? 0,
      keyId,
      tokenVersion: optionalString(p, 'ver') ?? '2.0',
      groupsOverage: hasGroupsOverage(p),
      audience: this.matchedAudience(p),
    };
  }
}

function refuse(code: AccessErrorCode, message: string): AccessError {
  return new AccessError(code, message);
}

function isAppOnly(p: JWTPayload): boolean {
  const idtyp = p['idtyp'];
  if (idtyp !== undefined) return idtyp === 'app';
  return p['scp'] === undefined;
}

function stringClaim(p: JWTPayload, name: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v === '') throw refuse('token-malformed', `token claim ${name} is missing or not a string`);
  return v;
}

function optionalString(p: JWTPayload, name: string): string | undefined {
  const v = p[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function stringArrayClaim(p: JWTPayload, name: string): string[] {
  const v = p[name];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw refuse('token-malformed', `token claim ${name} is not a list of strings`);
  }
  return v;
}

function hasGroupsOverage(p: JWTPayload): boolean {
  const names = p['_claim_names'];
  return typeof names === 'object' && names !== null && 'groups' in names;
}

function joseToAccessError(e: unknown): AccessError {
  if (e instanceof AccessError) return e;
  if (e instanceof errors.JWTExpired) return refuse('token-expired', 'token has expired');
  if (e instanceof errors.JWTClaimValidationFailed) return claimError(e.claim, e.reason);
  if (e instanceof errors.JWSSignatureVerificationFailed) return refuse('token-bad-signature', 'token signature does not verify');
  if (e instanceof errors.JWKSNoMatchingKey) {
    return refuse('token-unknown-key', "token is signed with a key that is not in the tenant's key set");
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return refuse('token-wrong-algorithm', 'token algorithm is not allowed (RS256 only)');
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return refuse('token-malformed', 'the password is not a valid JWT');
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) {
    return refuse('signing-keys-unavailable', "the tenant's signing keys could not be fetched");
  }
  return refuse('signing-keys-unavailable', "the tenant's signing keys could not be fetched");
}

function claimError(claim: string, reason: string): AccessError {
  switch (claim) {
    case 'aud':
      return refuse('token-wrong-audience', 'token was issued for another audience');
    case 'iss':
      return refuse('token-wrong-issuer', 'token was issued by an issuer this gateway does not trust');
    case 'nbf':
      return refuse('token-not-yet-valid', 'token is not valid yet (nbf)');
    case 'exp':
      return refuse('token-expired', 'token has expired');
    default:
      return refuse('token-malformed', `token claim ${claim} is invalid (${reason})`);
  }
}
