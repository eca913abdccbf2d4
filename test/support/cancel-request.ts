import { connect } from 'node:net';
import type pg from 'pg';

export const CANCEL_REQUEST = 80877102;
export const PEER_CANCEL_REQUEST = 80877123;

/** Sends a (Peer)CancelRequest on a connection of its own, as libpq does, and waits for the gateway to close it. */
export function sendCancel(port: number, processId: number, secretKey: number, code = CANCEL_REQUEST): Promise<void> {
  return new Promise((resolve) => {
    const request = Buffer.alloc(16);
    request.writeInt32BE(16, 0);
    request.writeInt32BE(code, 4);
    request.writeInt32BE(processId, 8);
    request.writeInt32BE(secretKey, 12);
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(request));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve());
  });
}

/** The BackendKeyData a node-postgres client got (it keeps it on the client, untyped). */
export function backendKey(client: pg.Client): { readonly processID: number; readonly secretKey: number } {
  return client as unknown as { processID: number; secretKey: number };
}

/**
 * Runs a long statement on `session`, cancels it through the gateway at `port` (which may not be
 * the one holding the session), and returns the SQLSTATE the statement ended with.
 */
export async function cancelThrough(session: pg.Client, port: number): Promise<string | undefined> {
  const running = session.query('SELECT pg_sleep(20)').then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );
  await new Promise((r) => setTimeout(r, 300));
  const key = backendKey(session);
  await sendCancel(port, key.processID, key.secretKey);
  return running;
}
