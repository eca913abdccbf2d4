/** Why a session ended; recorded and logged with these exact names. */
export type EndReason =
  | 'client-terminated' // the client said goodbye (Terminate)
  | 'client-disconnected' // the client's connection closed without Terminate
  | 'upstream-closed' // the database closed its side
  | 'protocol-violation' // the client sent a malformed frame (it got 08P01)
  | 'upstream-protocol-violation' // the database sent a malformed frame (the client got 08P01 naming the database)
  | 'message-too-large' // a message over listen.max-message-bytes (the client got 54000)
  | 'socket-error' // a connection failed on either side (reset, timed out)
  | 'internal-error' // the gateway failed while relaying the session (a bug: the log has the detail)
  | 'gateway-shutdown' // drained at SIGTERM/SIGINT and still open at the deadline
  | 'audit-unavailable' // the audit database could not be written: recorded sessions fail closed
  | 'identity-disabled' // Graph says the identity is disabled or deleted
  | 'membership-revoked' // the identity left the group whose identity-map entry granted the session
  | 'role-revoked' // the identity's app role that granted the session was unassigned
  | 'identity-unverifiable' // Graph could not be asked for too long (on-unavailable: refuse)
  | 'token-expired' // the token the session started with expired (session.end-at-token-expiry)
  | 'signing-key-removed' // the tenant no longer publishes the key the token was signed with
  | 'access-changed' // a configuration reload no longer grants the session what it had
  | 'admin-terminated' // an operator ended it (POST /sessions/{id}/terminate, idgate terminate); who asked is recorded
  | 'idle-timeout' // the session sent nothing while nothing ran for longer than its idle-timeout limit
  | 'gateway-lost' // the gateway process died (crash, SIGKILL, OOM) with the session open: sealed at its next start, at the session's last event
  | 'lexical-state-changed'; // the server reported a setting that changes how it reads statements, which the scope analysis does not model
