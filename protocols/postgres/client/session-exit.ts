import type { EndReason } from '../../../src/session/end-reason.js';
import { encodeErrorResponse } from '../wire/backend-messages.js';
import type { ProtocolError } from '../wire/protocol-error.js';
import { sqlstateForProtocol } from './sqlstate.js';

/** What a client is told when the gateway ends its session, or nothing when the client cannot be told (it is gone). */
export interface Exit {
  readonly sqlstate: string;
  readonly message: string;
}

const INTERNAL_ERROR = 'XX000';
const ADMIN_SHUTDOWN = '57P01';

/**
 * Every way a session ends, and what its client gets: one switch over every EndReason (the
 * compiler refuses a reason left out). Undefined: the session ended from the client's side or the
 * connection is gone, so no FATAL is sent. `message` is the default text; the caller may say more
 * (which identity was disabled, who terminated it).
 */
export function exitFor(reason: EndReason): Exit | undefined {
  switch (reason) {
    case 'client-terminated':
    case 'client-disconnected':
    case 'socket-error':
    case 'gateway-lost':
      return undefined;
    case 'upstream-closed':
      // The server said why itself (its own FATAL is relayed); the gateway adds nothing.
      return undefined;
    case 'protocol-violation':
      return { sqlstate: '08P01', message: 'the client sent a malformed message' };
    case 'upstream-protocol-violation':
      return { sqlstate: '08P01', message: 'the database sent a malformed message' };
    case 'message-too-large':
      return { sqlstate: '54000', message: "the message exceeds the gateway's limit (listen.max-message-bytes)" };
    case 'internal-error':
      return { sqlstate: INTERNAL_ERROR, message: 'internal error in the gateway' };
    case 'idle-timeout':
      return { sqlstate: '57P05', message: 'terminating connection due to idle-session timeout' }; // idle_session_timeout
    case 'gateway-shutdown':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the gateway is shutting down' };
    case 'audit-unavailable':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the audit log cannot be written' };
    case 'identity-disabled':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the identity was disabled in Entra' };
    case 'membership-revoked':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the identity left the group that granted it' };
    case 'role-revoked':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the app role that granted it was removed' };
    case 'identity-unverifiable':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because Entra could not be asked about the identity' };
    case 'token-expired':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because its access token expired' };
    case 'signing-key-removed':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because its token’s signing key was withdrawn' };
    case 'access-changed':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection because the configuration no longer grants it' };
    case 'admin-terminated':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection due to administrator command' };
    case 'lexical-state-changed':
      return { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection: the server changed how it reads statements' };
  }
}

/** The FATAL for a session ended for `reason` (the reason's own text unless `message` says more). */
export function exitFatal(reason: EndReason, message?: string): Buffer {
  const exit = exitFor(reason) ?? { sqlstate: ADMIN_SHUTDOWN, message: 'terminating connection' };
  return fatal(exit.sqlstate, message ?? exit.message);
}

/** The FATAL for a malformed message: the protocol error's own SQLSTATE and text. */
export function protocolFatal(e: ProtocolError): Buffer {
  return fatal(sqlstateForProtocol(e.code), e.message);
}

/** The FATAL for the gateway's own failure: a fixed text naming the session, never the exception's. */
export function internalErrorFatal(sessionId: string): Buffer {
  return fatal(INTERNAL_ERROR, internalErrorMessage(sessionId));
}

export function internalErrorMessage(sessionId: string): string {
  return `internal error in the gateway (session ${sessionId})`;
}

/** A FATAL ErrorResponse: the one way the gateway ends a connection with words, logged in or not. */
export function fatal(sqlstate: string, message: string, detail?: string): Buffer {
  return encodeErrorResponse({ severity: 'FATAL', sqlstate, message, ...(detail !== undefined ? { detail } : {}) });
}

export const INTERNAL_ERROR_SQLSTATE = INTERNAL_ERROR;
