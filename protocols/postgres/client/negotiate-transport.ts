import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { AccessError } from '../../../src/access-error.js';
import type { MessageQueue } from '../message-queue.js';
import { streamSource } from '../read-source.js';
import { decodeStartupPacket, type StartupPacket } from '../wire/startup-packet.js';
import { ProtocolError } from '../wire/protocol-error.js';

/** Postgres's own cap on a startup packet (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_PACKET = 10_000;
const ANSWER_S = Buffer.from('S');
const ANSWER_N = Buffer.from('N');

export type ClientStream = Socket | TLSSocket;

export interface NegotiatedTransport {
  readonly stream: ClientStream;
  readonly tls: boolean;
  /** The first packet after encryption negotiation: a StartupMessage or a CancelRequest. */
  readonly packet: Exclude<StartupPacket, { kind: 'SSLRequest' | 'GSSENCRequest' }>;
}

/**
 * Answers SSLRequest ('S' and a TLS handshake when TLS is configured, else 'N') and GSSENCRequest
 * ('N'), until the client sends its StartupMessage or CancelRequest.
 */
export async function negotiateTransport(
  socket: Socket,
  queue: MessageQueue,
  secureContext: SecureContext | undefined,
  /** Told as soon as TLS is up, so that a refusal after it (a bad startup packet) goes out encrypted. */
  onSecure: (stream: TLSSocket) => void = () => undefined,
): Promise<NegotiatedTransport> {
  let stream: ClientStream = socket;
  let tls = false;
  for (let requests = 0; requests < 3; requests++) {
    const packet = decodeStartupPacket(await startupBytes(queue));
    switch (packet.kind) {
      case 'SSLRequest': {
        if (tls) throw new ProtocolError('unexpected-message', 'SSLRequest on an encrypted connection');
        if (secureContext === undefined) {
          socket.write(ANSWER_N);
          break;
        }
        // Bytes sent after SSLRequest but before the handshake were not encrypted: a client
        // that does this is being man-in-the-middled or is broken (CVE-2021-23214 class).
        if (queue.buffered > 0) throw new ProtocolError('unexpected-message', 'received unencrypted data after SSL request');
        const secure = await startTls(socket, queue, secureContext);
        stream = secure;
        tls = true;
        onSecure(secure);
        break;
      }
      case 'GSSENCRequest':
        if (queue.buffered > 0) throw new ProtocolError('unexpected-message', 'received unencrypted data after GSSENC request');
        stream.write(ANSWER_N);
        break;
      default:
        return { stream, tls, packet };
    }
  }
  throw new ProtocolError('unexpected-message', 'too many encryption requests');
}

/**
 * The next untyped packet. A client that sends Terminate where a startup packet belongs (a driver
 * closing a connection it never used) is leaving, not attacking: 'X' then three zero bytes can
 * never begin a valid packet (its length would be over 1 GB), and it is told apart so the
 * connection can close without an answer, as Postgres closes it.
 */
async function startupBytes(queue: MessageQueue): Promise<Buffer> {
  try {
    return await queue.untyped(MAX_STARTUP_PACKET);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'frame-too-long' && queue.startsWith(BARE_TERMINATE_START)) {
      throw new ProtocolError('client-left', 'the client sent Terminate instead of a startup packet');
    }
    throw e;
  }
}

const BARE_TERMINATE_START = Buffer.from([0x58, 0, 0, 0]);

async function startTls(socket: Socket, queue: MessageQueue, secureContext: SecureContext): Promise<TLSSocket> {
  queue.detach();
  socket.write(ANSWER_S);
  const secure = new TLSSocket(socket, { isServer: true, secureContext });
  queue.attach(streamSource(secure));
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void =>
      reject(new AccessError('encryption-required', `TLS handshake failed (${(e as NodeJS.ErrnoException).code ?? e.message})`));
    const onClose = (): void => onError(new Error('closed'));
    secure.once('secure', () => {
      secure.off('error', onError).off('close', onClose);
      resolve();
    });
    secure.once('error', onError).once('close', onClose);
  });
  secure.setNoDelay(true);
  return secure;
}
