/**
 * A reference point for `npm run bench`: a relay that only moves bytes between a client and
 * Postgres, read into its own buffers the way the gateway reads (read-source.ts) — no protocol,
 * no login, no recording. What it costs per round trip is the floor for any proxy written in
 * Node.js on this machine; the gateway's distance to it is what its own work costs.
 *
 *   node --import tsx test/bench/byte-relay.ts LISTEN_PORT POSTGRES_PORT
 */
import { createServer, type Socket } from 'node:net';
import { adoptWithOwnBuffer, connectWithOwnBuffer, type ReadSource } from '../../protocols/postgres/read-source.js';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);

function pipe(from: { socket: Socket; source: ReadSource }, to: Socket): void {
  from.source.setHandler(
    (chunk) => {
      if (!to.write(chunk)) from.socket.pause();
    },
    () => to.writableLength > 0, // the chunk is still queued: the next read needs a fresh buffer
  );
  to.on('drain', () => from.socket.resume());
  from.socket.on('end', () => to.end());
  from.socket.on('error', () => to.destroy());
}

createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
  const client = adoptWithOwnBuffer(accepted);
  const upstream = connectWithOwnBuffer({ host: '127.0.0.1', port: upstreamPort ?? 5432, noDelay: true });
  pipe(client, upstream.socket);
  pipe(upstream, client.socket);
}).listen(listenPort, '127.0.0.1');
