/**
 * The base of every error idgate raises on purpose. Each carries a stable `code` that callers
 * switch on (as jose's errors do) — the message is for people and may change. The codes, and the
 * SQLSTATE a client gets for each, are listed in docs/errors.md.
 */
export abstract class IdgateError extends Error {
  abstract readonly code: string;
}

/** The message of whatever was thrown, for a log line (never for a client). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Something that cannot happen did (a broken invariant): a bug to report, never a user's mistake. */
export class InvariantError extends IdgateError {
  override readonly name = 'InvariantError';
  override readonly code = 'invariant';
}

/** A command-line invocation that cannot be carried out as given (exit status 2, the message says why). */
export class UsageError extends IdgateError {
  override readonly name = 'UsageError';
  constructor(
    override readonly code:
      'bad-argument' | 'no-such-session' | 'no-such-approval' | 'refused' | 'audit-unreadable' | 'central-unreachable',
    message: string,
  ) {
    super(message);
  }
}
