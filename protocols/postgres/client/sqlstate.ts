import type { AccessErrorCode } from '../../../src/access-error.js';
import type { ProtocolErrorCode } from '../wire/protocol-error.js';

/** The SQLSTATE a client sees for each reason the gateway refuses or ends a session. */
export function sqlstateForAccess(code: AccessErrorCode): string {
  switch (code) {
    case 'token-malformed':
    case 'token-expired':
    case 'token-not-yet-valid':
    case 'token-bad-signature':
    case 'token-unknown-key':
    case 'token-wrong-algorithm':
    case 'token-wrong-issuer':
    case 'token-wrong-tenant':
    case 'token-wrong-audience':
    case 'token-not-app-only':
    case 'token-unverifiable':
    case 'signing-keys-unavailable':
      return '28P01'; // invalid_password
    case 'not-mapped':
    case 'identity-disabled':
    case 'encryption-required':
      return '28000'; // invalid_authorization_specification
    case 'startup-parameter-refused':
      return '42501'; // insufficient_privilege
    case 'scope-unsupported':
      return '0A000'; // feature_not_supported
    case 'unknown-connection':
      return '3D000'; // invalid_catalog_name
    case 'upstream-unreachable':
    case 'upstream-rejected':
      return '08006'; // connection_failure
    case 'too-many-connections':
    case 'session-limit':
    case 'upstream-full':
      return '53300'; // too_many_connections
    case 'upstream-not-ready':
      return '57P03'; // cannot_connect_now
    case 'auth-timeout':
      return '08006';
    case 'upstream-credential-unavailable':
      return '08004'; // sqlserver_rejected_establishment_of_sqlconnection: the gateway's own login cannot start
    case 'shutting-down':
    case 'identity-check-unavailable':
    case 'audit-unavailable':
      return '57P03'; // cannot_connect_now
  }
}

export function sqlstateForProtocol(code: ProtocolErrorCode): string {
  switch (code) {
    case 'unsupported-protocol':
      return '0A000'; // feature_not_supported, as Postgres answers an unknown major version
    case 'message-too-large':
      return '54000'; // program_limit_exceeded
    case 'frame-too-short':
    case 'frame-too-long':
    case 'truncated':
    case 'missing-terminator':
    case 'unexpected-message':
    case 'reply-out-of-sync':
    case 'malformed-startup':
    case 'client-left':
      return '08P01'; // protocol_violation
  }
}
