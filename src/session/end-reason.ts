/** Why a session ended; recorded and logged with these exact names. */
export type EndReason =
  | 'client-terminated' // the client said goodbye (Terminate)
  | 'client-disconnected' // the client's connection closed without Terminate
  | 'upstream-closed' // the database closed its side
  | 'protocol-violation' // a malformed frame
  | 'socket-error'
  | 'gateway-shutdown' // drained at SIGTERM/SIGINT and still open at the deadline
  | 'audit-unavailable'; // the audit database could not be written: recorded sessions fail closed
