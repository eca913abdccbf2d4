import { createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { JournalMac } from './journal-mac.js';
import { SigningError } from './signing-error.js';

/**
 * A fleet node's own key pair (Ed25519): the node signs the heads of its chains with it, so a
 * row that anyone else writes — a file writer, the central store's writer role, another node —
 * fails `verify` even when every hash in it was recomputed. The private key lives in a file or an
 * environment variable the config names, never in an audit database; a public key is written as
 * `ed25519:<base64 of its 32 bytes>`, the form trust lists use.
 */
const PUBLIC_PREFIX = 'ed25519:';
/** Every signed message starts with this, so a signature made for the audit log means nothing elsewhere. */
const DOMAIN = 'idgate audit signature 1';
/** DER prefix of an Ed25519 SubjectPublicKeyInfo: the raw 32 key bytes follow it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** What a node signs: a kind of row and the hash (or digest of fields) that row stands for. */
export type SignedKind = 'seal' | 'login' | 'origin' | 'key' | 'prune' | 'head';

export class NodeKey {
  readonly publicKey: string;
  private readonly journalKey: Buffer;

  private constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new SigningError(
        'key-invalid',
        `the node key must be an Ed25519 private key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`,
      );
    }
    this.publicKey = publicKeyText(createPublicKey(privateKey));
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' });
    // A key of its own for the journal's MACs, derived so that one secret is all an operator keeps.
    this.journalKey = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), 'idgate write-ahead journal MAC', 32));
  }

  /** Reads a PEM private key (as `idgate keygen` writes it); the text is not kept. */
  static fromPem(pem: string): NodeKey {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new SigningError('key-invalid', 'the node key is not a PEM private key');
    }
    return new NodeKey(key);
  }

  /** A new key pair, as PEM (PKCS#8) for the private key. */
  static generate(): { readonly pem: string; readonly key: NodeKey } {
    const { privateKey } = generateKeyPairSync('ed25519');
    return { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), key: new NodeKey(privateKey) };
  }

  /** The signature (base64) of a row of this kind standing for `hash`. */
  sign(kind: SignedKind, hash: string): string {
    return sign(null, signedMessage(kind, hash), this.privateKey).toString('base64');
  }

  /** The MAC of the records of the journal of log `logId` (a record cut from another journal does not fit). */
  journalMac(logId: string): JournalMac {
    return new JournalMac(this.journalKey, logId);
  }
}

function signedMessage(kind: SignedKind, hash: string): Buffer {
  return Buffer.from(`${DOMAIN}\u0000${kind}\u0000${hash}`);
}

function publicKeyText(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return `${PUBLIC_PREFIX}${der.subarray(SPKI_PREFIX.length).toString('base64')}`;
}

/** Is `text` a public key as this module writes it? */
export function isPublicKeyText(text: string): boolean {
  if (!text.startsWith(PUBLIC_PREFIX)) return false;
  return Buffer.from(text.slice(PUBLIC_PREFIX.length), 'base64').length === 32;
}

const publicKeys = new Map<string, KeyObject | undefined>();

function publicKeyOf(text: string): KeyObject | undefined {
  if (publicKeys.has(text)) return publicKeys.get(text);
  let key: KeyObject | undefined;
  if (isPublicKeyText(text)) {
    const raw = Buffer.from(text.slice(PUBLIC_PREFIX.length), 'base64');
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  }
  publicKeys.set(text, key);
  return key;
}

/** Was `signature` made by the holder of `publicKey` for a row of this kind standing for `hash`? */
export function verifySigned(publicKey: string, kind: SignedKind, hash: string, signature: string | null): boolean {
  const key = publicKeyOf(publicKey);
  if (key === undefined || signature === null) return false;
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) return false;
  return verify(null, signedMessage(kind, hash), key, bytes);
}
