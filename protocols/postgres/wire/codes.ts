/** Message type bytes and request codes, named as in the PostgreSQL protocol documentation. */

export const RequestCode = {
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
  CancelRequest: 80877102,
  /**
   * idgate's own: a CancelRequest one gateway of a fleet passes to a peer (1234/5699, beside
   * Postgres's 1234/5678–5680). A peer acts on it only locally and never passes it on: one hop.
   */
  PeerCancelRequest: 80877123,
} as const;

/** Protocol 3.0 as the 32-bit version of a StartupMessage. */
export const PROTOCOL_3_0 = 196608;

/** Frontend (client → server) message type bytes. */
export const Frontend = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Describe: 0x44, // D
  Execute: 0x45, // E
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  Parse: 0x50, // P
  PasswordMessage: 0x70, // p (also SASLInitialResponse / SASLResponse)
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Backend (server → client) message type bytes. */
export const Backend = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  CommandComplete: 0x43, // C
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  PortalSuspended: 0x73, // s
  ErrorResponse: 0x45, // E
  NegotiateProtocolVersion: 0x76, // v
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  ParameterStatus: 0x53, // S
  ReadyForQuery: 0x5a, // Z
} as const;

/** Authentication request subtypes (the int32 after an 'R'). */
export const AuthRequest = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;
