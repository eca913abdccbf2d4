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

const admin = (message: string): Exit => ({ sqlstate: ADMIN_SHUTDOWN, message });

/**
 * Every way a session ends, and what its client gets: one entry per EndReason (the compiler
 * refuses a reason left out). Undefined: the session ended from the client's side, the connection
 * is gone, or (upstream-closed) the server said why itself and its FATAL was relayed — no FATAL of
 * the gateway's. `message` is the default text; the caller may say more (which identity was
 * disabled, who terminated it).
 */
const EXITS: Readonly<Record<EndReason, Exit | undefined>> = {
  'client-terminated': undefined,
  'client-disconnected': undefined,
  'socket-error': undefined,
  'gateway-lost': undefined,
  'upstream-closed': undefined,
  'protocol-violation': { sqlstate: '08P01', message: 'the client sent a malformed message' },
  'upstream-protocol-violation': { sqlstate: '08P01', message: 'the database sent a malformed message' },
  'message-too-large': { sqlstate: '54000', message: "the message exceeds the gateway's limit (listen.max-message-bytes)" },
  'internal-error': { sqlstate: INTERNAL_ERROR, message: 'internal error in the gateway' },
  'idle-timeout': { sqlstate: '57P05', message: 'terminating connection due to idle-session timeout' },
  'gateway-shutdown': admin('terminating connection because the gateway is shutting down'),
  'audit-unavailable': admin('terminating connection because the audit log cannot be written'),
  'identity-disabled': admin('terminating connection because the identity was disabled in Entra'),
  'membership-revoked': admin('terminating connection because the identity left the group that granted it'),
  'role-revoked': admin('terminating connection because the app role that granted it was removed'),
  'identity-unverifiable': admin('terminating connection because Entra could not be asked about the identity'),
  'token-expired': admin('terminating connection because its access token expired'),
  'signing-key-removed': admin('terminating connection because its token’s signing key was withdrawn'),
  'access-changed': admin('terminating connection because the configuration no longer grants it'),
  'admin-terminated': admin('terminating connection due to administrator command'),
  'lexical-state-changed': admin('terminating connection: the server changed how it reads statements'),
};

export function exitFor(reason: EndReason): Exit | undefined {
  return EXITS[reason];
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
