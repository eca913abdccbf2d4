import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from '@mongodb-js/saslprep';
import { IdgateError } from '../../../src/idgate-error.js';

/** Why an upstream SCRAM exchange failed; the messages never contain the password. */
export class ScramError extends IdgateError {
  override readonly name = 'ScramError';
  override readonly code = 'scram-failed';
}

interface DerivedKeys {
  readonly clientKey: Buffer;
  readonly serverKey: Buffer;
}

const pbkdf2Async = promisify(pbkdf2);

/**
 * PBKDF2 with the server's iteration count dominates a SCRAM login (milliseconds — more with a
 * raised `scram_iterations`), so it runs on libuv's thread pool, never on the relay thread. The
 * salt and count of a role change only when its password does, so the derived keys are remembered
 * per (password, salt, iterations), logins at once sharing one derivation: connection setup then
 * costs microseconds. Kept in process memory only, like the password itself.
 */
const derivedKeyCache = new Map<string, Promise<DerivedKeys>>();

function deriveKeys(password: string, salt: Buffer, iterations: number): Promise<DerivedKeys> {
  const cacheKey = createHash('sha256').update(password).update('\0').update(salt).update(String(iterations)).digest('base64');
  const hit = derivedKeyCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const derived = pbkdf2Async(normalizedPassword(password), salt, iterations, 32, 'sha256').then((salted) => ({
    clientKey: createHmac('sha256', salted).update('Client Key').digest(),
    serverKey: createHmac('sha256', salted).update('Server Key').digest(),
  }));
  if (derivedKeyCache.size > 1000) derivedKeyCache.clear();
  derivedKeyCache.set(cacheKey, derived);
  derived.catch(() => derivedKeyCache.delete(cacheKey));
  return derived;
}

/**
 * The password as the server hashed it: SASLprep (RFC 4013: non-ASCII spaces to a space, soft
 * hyphens and the like removed, NFKC) — and, as Postgres does (pg_saslprep), the password as
 * given when it is not a valid SASLprep string (prohibited or unassigned characters).
 */
export function normalizedPassword(password: string): string {
  try {
    return saslprep(password);
  } catch {
    return password;
  }
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part.slice(0, 1), part.slice(2));
  }
  return out;
}

/** The client side of SCRAM-SHA-256 (RFC 5802/7677) without channel binding, as libpq does over plain TCP. */
export class ScramClient {
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | undefined;

  /**
   * Postgres ignores the SCRAM user name (the startup packet's counts), so libpq sends `*`; the
   * nonce and name are parameters only so the RFC's test vectors can be replayed.
   */
  constructor(
    private readonly password: string,
    private readonly clientNonce: string = randomBytes(18).toString('base64'),
    user = '*',
  ) {
    this.clientFirstBare = `n=${user},r=${clientNonce}`;
  }

  clientFirstMessage(): string {
    return `n,,${this.clientFirstBare}`;
  }

  async clientFinalMessage(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const saltB64 = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new ScramError('upstream SCRAM nonce does not extend ours');
    }
    if (saltB64 === undefined || !Number.isInteger(iterations) || iterations < 1) {
      throw new ScramError('upstream SCRAM first message is malformed');
    }
    const { clientKey, serverKey } = await deriveKeys(this.password, Buffer.from(saltB64, 'base64'), iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (clientSignature[i] ?? 0);
    this.expectedServerSignature = createHmac('sha256', serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Proves the upstream knew the password too: a gateway must not talk to an impostor. */
  verifyServerFinal(serverFinal: string): void {
    const signature = parseAttributes(serverFinal).get('v');
    const expected = this.expectedServerSignature;
    if (signature === undefined || expected === undefined) throw new ScramError('upstream SCRAM final message is malformed');
    const got = Buffer.from(signature, 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new ScramError('upstream SCRAM server signature does not match');
    }
  }
}
