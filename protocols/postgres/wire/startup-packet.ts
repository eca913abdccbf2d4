import { ByteReader } from './byte-reader.js';
import { PROTOCOL_3_0, RequestCode } from './codes.js';
import { ProtocolError } from './protocol-error.js';

/** The first message a client sends, decoded from its body (the bytes after the int32 length). */
export type StartupPacket =
  | { readonly kind: 'SSLRequest' }
  | { readonly kind: 'GSSENCRequest' }
  | { readonly kind: 'CancelRequest'; readonly processId: number; readonly secretKey: number }
  /** A CancelRequest passed on by a peer gateway: acted on here or nowhere. */
  | { readonly kind: 'PeerCancelRequest'; readonly processId: number; readonly secretKey: number }
  | {
      readonly kind: 'StartupMessage';
      readonly majorVersion: number;
      readonly minorVersion: number;
      /** Every parameter the client sent, in order; `_pq_.` protocol options included. */
      readonly parameters: ReadonlyMap<string, string>;
    };

export function decodeStartupPacket(body: Buffer): StartupPacket {
  const r = new ByteReader(body);
  const code = r.int32();
  switch (code) {
    case RequestCode.SSLRequest:
      return expectEnd(r, { kind: 'SSLRequest' });
    case RequestCode.GSSENCRequest:
      return expectEnd(r, { kind: 'GSSENCRequest' });
    case RequestCode.CancelRequest: {
      const processId = r.int32();
      const secretKey = r.int32();
      return expectEnd(r, { kind: 'CancelRequest', processId, secretKey });
    }
    case RequestCode.PeerCancelRequest: {
      const processId = r.int32();
      const secretKey = r.int32();
      return expectEnd(r, { kind: 'PeerCancelRequest', processId, secretKey });
    }
    default:
      return decodeStartupMessage(code, r);
  }
}

function decodeStartupMessage(version: number, r: ByteReader): StartupPacket {
  const majorVersion = version >>> 16;
  const minorVersion = version & 0xffff;
  if (majorVersion !== PROTOCOL_3_0 >>> 16) {
    throw new ProtocolError('unsupported-protocol', `unsupported frontend protocol ${majorVersion}.${minorVersion}`);
  }
  const parameters = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    parameters.set(name, r.cstring());
  }
  return expectEnd(r, { kind: 'StartupMessage', majorVersion, minorVersion, parameters });
}

function expectEnd<T>(r: ByteReader, packet: T): T {
  if (r.remaining !== 0) throw new ProtocolError('malformed-startup', 'startup packet has trailing bytes');
  return packet;
}
