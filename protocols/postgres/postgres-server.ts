import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ConnectionConfig } from '../../src/config/gateway-config.js';
import type { GatewayServices, ProtocolServer } from '../../src/protocol.js';
import { CancelKeys } from './cancel/cancel-keys.js';
import { ClientConnection } from './client/client-connection.js';
import { sqlstateForAccess } from './client/sqlstate.js';
import { cancelHeld } from './cancel/cancel-held.js';
import { adoptWithOwnBuffer, type ReadSource } from './read-source.js';
import { reachUpstream } from './upstream/connect-upstream.js';
import { OverloadLookups } from './upstream/overload-lookups.js';
import { fatal } from './client/session-exit.js';

const TOO_MANY = fatal(sqlstateForAccess('too-many-connections'), 'sorry, too many clients already');

/** The Postgres wire protocol listener: accepts clients, caps how many are open, and hands each to a ClientConnection. */
export class PostgresServer implements ProtocolServer {
  readonly protocol = 'postgres';
  private readonly server: Server;
  private readonly cancelKeys = new CancelKeys();
  private secureContext: SecureContext | undefined;
  private readonly sockets = new Set<Socket>();
  private accepting = true;
  private readonly allClosed: (() => void)[] = [];
  private readonly overloads: OverloadLookups;

  constructor(private readonly services: GatewayServices) {
    const tls = services.config.listen.tls;
    this.secureContext = tls && clientTlsContext(tls);
    this.overloads = new OverloadLookups(services.logger, services.upstreamPasswords);
    // Accepted paused: each connection moves to a socket that reads into its own buffer first.
    this.server = createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => this.accept(adoptWithOwnBuffer(accepted)));
    this.server.on('error', (e) => services.logger.error({ err: e.message }, 'listener error'));
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  async listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.services.config.listen;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve({ host, port: typeof address === 'object' && address !== null ? address.port : port });
      });
    });
  }

  reachUpstream(connection: ConnectionConfig): Promise<string | undefined> {
    return reachUpstream(connection);
  }

  prepareTls(tls: { readonly cert: Buffer; readonly key: Buffer }): () => void {
    const context = clientTlsContext(tls);
    return () => {
      this.secureContext = context;
    };
  }

  /** A sibling worker's question: cancel it if this process holds the session. */
  cancelHeld(processId: number, secretKey: number): Promise<boolean> {
    return cancelHeld(this.cancelKeys, processId, secretKey, this.services.logger.child({ fromSibling: true }));
  }

  /** Closes the listener; resolves once every connection it accepted has closed too. */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // The server stops counting a connection once it is adopted (read-source.ts): count our own.
    const connectionsClosed = new Promise<void>((resolve) => {
      if (this.sockets.size === 0) resolve();
      else this.allClosed.push(resolve);
    });
    await Promise.all([listenerClosed, connectionsClosed]);
    this.overloads.close();
  }

  private accept({ socket, source }: { socket: Socket; source: ReadSource }): void {
    socket.on('error', () => undefined); // a reset client is routine; ClientConnection/Relay report what matters
    if (this.sockets.size >= this.services.config.listen.maxConnections) {
      this.services.logger.warn({ reason: 'too-many-connections' }, 'connection refused');
      this.services.metrics.login(false, 'too-many-connections');
      socket.end(TOO_MANY);
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) for (const resolve of this.allClosed.splice(0)) resolve();
    });
    const connection = new ClientConnection(socket, source, {
      services: this.services,
      cancelKeys: this.cancelKeys,
      secureContext: this.secureContext,
      isAccepting: () => this.accepting,
      overloads: this.overloads,
    });
    connection.run().catch((e: unknown) => {
      this.services.logger.error({ err: e instanceof Error ? e.stack : String(e) }, 'connection handler failed');
      socket.destroy();
    });
  }
}

function clientTlsContext(tls: { readonly cert: Buffer; readonly key: Buffer }): SecureContext {
  return createSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
}
