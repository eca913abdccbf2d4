import { isDeepStrictEqual } from 'node:util';
import type { ConnectionConfig, GatewayConfig, GatewayIdentityConfig, UpstreamAuth } from './gateway-config.js';

/**
 * The sections a reload cannot change: the listener (but for its TLS certificate and key), Entra (tenant, keys, the gateway's identity,
 * Graph), the audit database, logging, session settings, the fleet and the admin endpoint are
 * fixed for the life of the process (connections, identity-map and limits reload).
 * Returns the top-level keys that differ, so the reload is refused naming them.
 */
export function restartOnlyChanges(current: GatewayConfig, next: GatewayConfig): string[] {
  const changed: string[] = [];
  // The certificate and key reload (rotated in place); turning TLS on or off takes a restart.
  const listen = (c: GatewayConfig): unknown => ({ ...c.listen, tls: c.listen.tls !== undefined });
  if (!isDeepStrictEqual(listen(current), listen(next))) changed.push('listen');
  const { gatewayIdentity: currentIdentity, ...currentEntra } = current.entra;
  const { gatewayIdentity: nextIdentity, ...nextEntra } = next.entra;
  if (!isDeepStrictEqual(currentEntra, nextEntra) || !sameIdentity(currentIdentity, nextIdentity)) changed.push('entra');
  const recordings = (c: GatewayConfig): unknown[] => [
    c.recordingsPath,
    c.onReplaced,
    c.recordingDurability,
    c.recordingSync,
    c.central?.backlogLimit,
  ];
  const sameCentral =
    current.central === undefined || next.central === undefined
      ? current.central === next.central
      : sameConnection(current.central.connection, next.central.connection);
  if (!isDeepStrictEqual(recordings(current), recordings(next)) || !sameCentral) changed.push('recordings');
  // A default node id follows the listen port, whose change is already named.
  if (current.nodeId !== next.nodeId && !changed.includes('listen')) changed.push('node-id');
  if (current.logLevel !== next.logLevel) changed.push('log');
  if (current.endAtTokenExpiry !== next.endAtTokenExpiry) changed.push('session');
  // The requests and approvals live in a registry made at start with these limits.
  if (!isDeepStrictEqual(current.approvals, next.approvals)) changed.push('approvals');
  if (!isDeepStrictEqual(current.peers, next.peers) || current.peerTimeoutMs !== next.peerTimeoutMs) changed.push('fleet');
  if (!sameAdmin(current.admin, next.admin)) changed.push('admin');
  return changed;
}

/** The admin endpoint is bound at start: its address, token and certificates change only with a restart. */
function sameAdmin(a: GatewayConfig['admin'], b: GatewayConfig['admin']): boolean {
  if (a === undefined || b === undefined) return a === b;
  const { token: tokenA, ...restA } = a;
  const { token: tokenB, ...restB } = b;
  return isDeepStrictEqual(restA, restB) && tokenA?.reveal() === tokenB?.reveal();
}

/** Whether two connection entries log in to the same place the same way (secrets compared by value). */
export function sameConnection(a: ConnectionConfig, b: ConnectionConfig): boolean {
  const { auth: authA, ...restA } = a;
  const { auth: authB, ...restB } = b;
  return isDeepStrictEqual(restA, restB) && sameAuth(authA, authB);
}

function sameAuth(a: UpstreamAuth, b: UpstreamAuth): boolean {
  if (a.kind === 'password' && b.kind === 'password') return a.password.reveal() === b.password.reveal();
  if (a.kind === 'entra' && b.kind === 'entra') return a.scope === b.scope;
  return false;
}

function sameIdentity(a: GatewayIdentityConfig | undefined, b: GatewayIdentityConfig | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.clientId !== b.clientId || a.credential.kind !== b.credential.kind) return false;
  if (a.credential.kind === 'secret' && b.credential.kind === 'secret') {
    return a.credential.secret.reveal() === b.credential.secret.reveal();
  }
  if (a.credential.kind === 'certificate' && b.credential.kind === 'certificate') {
    return a.credential.pem.reveal() === b.credential.pem.reveal();
  }
  return true;
}
