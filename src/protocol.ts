import type { AuditLog } from './audit/audit-log.js';
import type { GatewayMetrics } from './admin/gateway-metrics.js';
import type { ConnectionConfig, GatewayConfig } from './config/gateway-config.js';
import type { UpstreamPasswords } from './identity/upstream-passwords.js';
import type { Logger } from './logging/logger.js';
import type { SessionAuthority } from './session/session-authority.js';
import type { SessionRegistry } from './session/session-registry.js';
import type { MemoryBudget } from './session/memory-budget.js';
import type { SessionSlots } from './session/session-slots.js';

/** What the core gives a wire protocol: configuration, the authority that admits sessions, the registry, a logger. */
export interface GatewayServices {
  readonly config: GatewayConfig;
  readonly authority: SessionAuthority;
  readonly sessions: SessionRegistry;
  /** Sessions counted per identity and identity-map entry against their max-sessions limits. */
  readonly slots: SessionSlots;
  /** What all sessions may hold in messages being assembled (`listen.memory-budget-bytes`). */
  readonly budget: MemoryBudget;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** The gateway's credential for each upstream login (a stored password or its own Entra token). */
  readonly upstreamPasswords: UpstreamPasswords;
  /** Counts what the protocol sees happen (logins, denials, limits) for `/metrics`. */
  readonly metrics: GatewayMetrics;
  /** The other worker processes of this gateway (`listen.workers`), absent for a single process. */
  readonly siblings?: SiblingCancel;
}

/** The other worker processes of this gateway: a cancel this process cannot place is offered to them. */
export interface SiblingCancel {
  /** Resolves true when a sibling held the session (and passed the cancel on upstream). */
  cancel(processId: number, secretKey: number): Promise<boolean>;
}

/** A worker's link to its siblings, both ways: it asks them, and answers them with what it holds. */
export interface SiblingChannel extends SiblingCancel {
  answerWith(holds: (processId: number, secretKey: number) => Promise<boolean>): void;
}

/** A wire protocol's listener, as the core drives it. Postgres is the first; others implement the same. */
export interface ProtocolServer {
  readonly protocol: string;
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(): Promise<{ readonly host: string; readonly port: number }>;
  /** Stops accepting new connections; open sessions carry on. */
  stopAccepting(): Promise<void>;
  /** Connections open, authenticated or not. */
  readonly openConnections: number;
  /** Whether the connection's upstream answers within its connect timeout: why not, or undefined. */
  reachUpstream(connection: ConnectionConfig): Promise<string | undefined>;
  /** Cancels the running statement of a session this process holds under that key; false when it holds none. */
  cancelHeld(processId: number, secretKey: number): Promise<boolean>;
}

export type ProtocolFactory = (services: GatewayServices) => ProtocolServer;
