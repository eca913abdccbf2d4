/**
 * A reference point for `npm run bench`: a relay that only moves bytes between a client and
 * Postgres, read into its own buffers the way the gateway reads (read-source.ts) — no protocol,
 * no login, no recording. What it costs per round trip is the floor for any proxy written in
 * Node.js on this machine; the gateway's distance to it is what its own work costs.
 *
 * With a certificate and key it is the floor with TLS from the client, as the gateway is deployed:
 * it answers the client's SSLRequest with 'S', takes the handshake through node:tls as the gateway
 * does, and relays the decrypted bytes.
 *
 *   node --import tsx test/bench/byte-relay.ts LISTEN_PORT POSTGRES_PORT [CERT_FILE KEY_FILE]
 */
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import { adoptWithOwnBuffer, connectWithOwnBuffer, streamSource, type ReadSource } from '../../protocols/postgres/read-source.js';
import { decodeStartupPacket } from '../../protocols/postgres/wire/startup-packet.js';

const [listenPort, upstreamPort] = process.argv.slice(2, 4).map(Number);
const [certFile, keyFile] = process.argv.slice(4, 6);
const secureContext =
  certFile !== undefined && keyFile !== undefined
    ? createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' })
    : undefined;
const SSL_REQUEST_LENGTH = 8;

function pipe(from: ReadSource, to: Duplex): void {
  from.setHandler(
    (chunk) => {
      if (!to.write(chunk)) from.stream.pause();
    },
    () => to.writableLength > 0, // the chunk is still queued: the next read needs a fresh buffer
  );
  to.on('drain', () => from.stream.resume());
  from.stream.on('end', () => to.end());
  from.stream.on('error', () => to.destroy());
}

function relay(client: ReadSource): void {
  const upstream = connectWithOwnBuffer({ host: '127.0.0.1', port: upstreamPort ?? 5432, noDelay: true });
  pipe(client, upstream.socket);
  pipe(upstream.source, client.stream);
  client.stream.resume();
}

function isSslRequest(packet: Buffer): boolean {
  try {
    return packet.readInt32BE(0) === packet.length && decodeStartupPacket(packet.subarray(4)).kind === 'SSLRequest';
  } catch {
    return false;
  }
}

/** Answers the SSLRequest with 'S' and relays what comes through the TLS session. */
function relayOverTls(client: { socket: Socket; source: ReadSource }, context: SecureContext): void {
  let received = Buffer.alloc(0);
  client.source.setHandler((chunk) => {
    received = Buffer.concat([received, chunk]);
    if (received.length < SSL_REQUEST_LENGTH) return;
    client.source.clearHandler();
    if (received.length !== SSL_REQUEST_LENGTH || !isSslRequest(received)) {
      client.socket.destroy();
      return;
    }
    client.socket.pause();
    client.socket.write('S');
    const secure = new TLSSocket(client.socket, { isServer: true, secureContext: context });
    secure.setNoDelay(true);
    secure.once('secure', () => relay(streamSource(secure)));
    secure.on('error', () => secure.destroy());
  });
  client.socket.resume();
}

createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
  const client = adoptWithOwnBuffer(accepted);
  if (secureContext !== undefined) relayOverTls(client, secureContext);
  else relay(client.source);
}).listen(listenPort, '127.0.0.1');
