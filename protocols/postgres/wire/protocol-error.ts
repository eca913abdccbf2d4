import { IdgateError } from '../../../src/idgate-error.js';

/** Why a byte sequence is not valid protocol; stable codes a caller can switch on. */
export type ProtocolErrorCode =
  | 'frame-too-short'
  | 'frame-too-long'
  | 'message-too-large' // a logged-in client's message over listen.max-message-bytes
  | 'truncated'
  | 'missing-terminator'
  | 'unexpected-message'
  | 'reply-out-of-sync' // the server's reply fits no message the gateway forwarded: its model of the session is lost
  | 'unsupported-protocol'
  | 'malformed-startup'
  | 'client-left'; // the client sent Terminate instead of a startup packet

export class ProtocolError extends IdgateError {
  override readonly name = 'ProtocolError';
  constructor(
    override readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
