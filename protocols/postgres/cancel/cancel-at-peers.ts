import { connect } from 'node:net';
import { RequestCode } from '../wire/codes.js';

export interface Peer {
  readonly host: string;
  readonly port: number;
}

/**
 * Passes a CancelRequest to every peer gateway at once, as a PeerCancelRequest (which a peer acts
 * on only for a session it holds, and never passes on: one hop). Resolves when every peer has been
 * told or given up on after `timeoutMs`. Every bit of the 32-bit secret stays random (a protocol
 * 3.0 key has no room to name the issuing node without making keys easier to guess), so the
 * request goes to all peers; cancels are rare, and a fleet is a handful of nodes.
 */
export async function cancelAtPeers(peers: readonly Peer[], processId: number, secretKey: number, timeoutMs: number): Promise<number> {
  const results = await Promise.all(peers.map((peer) => sendPeerCancel(peer, processId, secretKey, timeoutMs)));
  return results.filter(Boolean).length;
}

function sendPeerCancel(peer: Peer, processId: number, secretKey: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = Buffer.alloc(16);
    request.writeInt32BE(16, 0);
    request.writeInt32BE(RequestCode.PeerCancelRequest, 4);
    request.writeInt32BE(processId, 8);
    request.writeInt32BE(secretKey, 12);
    const socket = connect({ host: peer.host, port: peer.port, timeout: timeoutMs });
    let sent = false;
    socket.once('connect', () => {
      sent = true;
      socket.end(request);
    });
    socket.once('timeout', () => socket.destroy());
    socket.once('error', () => undefined);
    socket.once('close', () => resolve(sent));
  });
}
