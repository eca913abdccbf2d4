import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { AccessError } from '../../../src/access-error.js';
import { MessageQueue } from '../message-queue.js';
import { SSL_REQUEST } from '../wire/frontend-messages.js';
import { connectWithOwnBuffer, streamSource, type ReadSource } from '../read-source.js';
import type { UpstreamTarget } from './upstream-target.js';

export type UpstreamSocket = Socket | TLSSocket;

export interface UpstreamConnection {
  readonly socket: UpstreamSocket;
  readonly source: ReadSource;
}

const MAX_UPSTREAM_HANDSHAKE_MESSAGE = 1 << 20;

/**
 * Opens TCP (or, for a host that is a directory, the server's Unix-domain socket in it, as libpq
 * does) to the upstream and, unless `tls: disable`, negotiates TLS the way libpq does (SSLRequest
 * first; with `prefer`, a server that declines is used in plaintext). The queue is attached to
 * whatever the bytes arrive on.
 */
export async function connectUpstream(target: UpstreamTarget, queue: MessageQueue): Promise<UpstreamConnection> {
  if (target.tls === 'disable' || isSocketDirectory(target.host)) {
    // Plain TCP reads into our own buffer: the relay's cheapest path.
    const connection = await openTcp(target, true);
    queue.attach(connection.source);
    return connection;
  }
  const { socket, source } = await openTcp(target, false);
  queue.attach(source);
  socket.write(SSL_REQUEST);
  const answer = await queue.byte();
  if (answer === 0x4e && target.tls === 'prefer' && queue.buffered === 0) return { socket, source };
  queue.detach();
  if (answer !== 0x53 || queue.buffered > 0) {
    socket.destroy();
    throw new AccessError('upstream-unreachable', 'the upstream database does not accept TLS, which its connection requires');
  }
  const secure = await startTls(socket, target);
  const secureSource = streamSource(secure);
  queue.attach(secureSource);
  return { socket: secure, source: secureSource };
}

export function newUpstreamQueue(): MessageQueue {
  return new MessageQueue(MAX_UPSTREAM_HANDSHAKE_MESSAGE, 4 * MAX_UPSTREAM_HANDSHAKE_MESSAGE);
}

/** libpq takes a host that begins with a slash as the directory of the server's Unix-domain socket. */
export function isSocketDirectory(host: string): boolean {
  return host.startsWith('/');
}

/** Whether the upstream accepts a connection within its connect timeout (nothing is sent): why not, or undefined. */
export async function reachUpstream(target: UpstreamTarget): Promise<string | undefined> {
  try {
    const { socket } = await openTcp(target, false);
    socket.destroy();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function socketOptions(
  target: UpstreamTarget,
): { path: string; timeout: number } | { host: string; port: number; noDelay: true; timeout: number } {
  return isSocketDirectory(target.host)
    ? { path: join(target.host, `.s.PGSQL.${target.port}`), timeout: target.connectTimeoutMs }
    : { host: target.host, port: target.port, noDelay: true, timeout: target.connectTimeoutMs };
}

function openTcp(target: UpstreamTarget, ownBuffer: boolean): Promise<UpstreamConnection> {
  return new Promise((resolve, reject) => {
    const options = socketOptions(target);
    const connection = ownBuffer ? connectWithOwnBuffer(options) : plainConnection(netConnect(options));
    const { socket } = connection;
    const onError = (e: Error): void => {
      socket.destroy();
      reject(new AccessError('upstream-unreachable', `the upstream database cannot be reached (${errorCode(e)})`));
    };
    const onTimeout = (): void => onError(new Error('connect timeout'));
    socket.once('error', onError);
    socket.once('timeout', onTimeout);
    socket.once('connect', () => {
      socket.off('error', onError).off('timeout', onTimeout);
      socket.setTimeout(0);
      resolve(connection);
    });
  });
}

function plainConnection(socket: Socket): UpstreamConnection {
  return { socket, source: streamSource(socket) };
}

function startTls(socket: Socket, target: UpstreamTarget): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const verify = target.tls === 'verify-full' || target.tls === 'verify-ca';
    const secure = tlsConnect({
      socket,
      host: target.host,
      servername: isIp(target.host) ? '' : target.host,
      rejectUnauthorized: verify,
      ...(verify && target.ca !== undefined ? { ca: target.ca } : {}),
      // verify-ca checks the chain only; require and prefer check nothing, as libpq does.
      ...(target.tls === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
    });
    secure.once('secureConnect', () => {
      secure.off('error', onError);
      secure.setNoDelay(true);
      resolve(secure);
    });
    const onError = (e: Error): void => {
      secure.destroy();
      reject(new AccessError('upstream-unreachable', `TLS with the upstream database failed (${errorCode(e)})`));
    };
    secure.once('error', onError);
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function errorCode(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code ?? e.message;
}
