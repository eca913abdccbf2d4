import { AccessError } from '../../../src/access-error.js';
import { ProtocolError } from '../wire/protocol-error.js';
import { INTERNAL_ERROR_SQLSTATE, internalErrorMessage } from './session-exit.js';
import { sqlstateForAccess, sqlstateForProtocol } from './sqlstate.js';

/** A login refusal as the client and the log see it: the internal detail goes to the log only. */
export interface ClientError {
  readonly code: string;
  readonly sqlstate: string;
  readonly message: string;
  readonly detail?: string;
  readonly logDetail?: string;
  readonly internal: boolean;
}

export function toClientError(e: unknown, sessionId: string): ClientError {
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
