import type { ApprovalRegistry } from './approvals/approval-registry.js';
import type { ApprovalFleet } from './approvals/approval-fleet.js';
import type { AuditLog } from './audit/audit-log.js';
import type { EventRow } from './audit/audit-reader.js';
import type { RecordedEvent, TranscriptEntry } from './audit/transcript.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { ConnectionConfig, GatewayConfig } from './config/gateway-config.js';
import type { UpstreamPasswords } from './identity/upstream-passwords.js';
import type { Logger } from './logging/logger.js';
import type { Access } from './policy/access.js';
import type { RolePowers } from './policy/wider-privileges.js';
import type { SessionAuthority } from './session/session-authority.js';
import type { SessionRegistry } from './session/session-registry.js';
import type { MemoryBudget } from './session/memory-budget.js';
import type { SessionSlots } from './session/session-slots.js';
import type { CancelGuard } from './session/cancel-guard.js';

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
  /** Bounds cancel-key guessing per source address: consulted before a CancelRequest is looked up. */
  readonly cancelGuard: CancelGuard;
  /** Statements held for a person's approval, and the approvals given (this process's). */
  readonly approvals: ApprovalRegistry;
  /** The other worker processes' approvals (`listen.workers`), absent for a single process. */
  readonly approvalFleet?: ApprovalFleet;
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
  /**
   * A new certificate and key for the clients' TLS (a reload): checked now — throws if they cannot
   * be used together — and in force for new connections once the returned commit is called. Open
   * sessions keep the certificate they were made with.
   */
  prepareTls(tls: { readonly cert: Buffer; readonly key: Buffer }): () => void;
}

export type ProtocolFactory = (services: GatewayServices) => ProtocolServer;

/** How a replay is paced (`idgate replay --execute`). */
export interface ReplayOptions {
  /** Time scale: 2 plays twice as fast as recorded. */
  readonly speed: number;
  /** Skip the idle time between steps. */
  readonly noWait: boolean;
  /** How long to wait for the last answers once everything is sent. */
  readonly settleTimeoutMs?: number;
}

/** What the target answered when a recorded session was sent to it again. */
export interface ReplayRun {
  /** The target's outcomes, in the order it answered. */
  readonly serverEvents: RecordedEvent[];
  /** What could not be sent again because it was not recorded. */
  readonly notRecorded: { readonly code: string; readonly bytes: number }[];
  /** False when the target had not answered everything by the timeout or closed the connection. */
  readonly complete: boolean;
}

/**
 * Everything the core and the CLI need of a wire protocol. `src/` names no protocol: the
 * composition root (src/main.ts) hands one of these to the CLI, which hands it on.
 */
export interface WireProtocol {
  /** Recorded in each session row (`sessions.protocol`). */
  readonly name: string;
  /** Serving: the listener the gateway starts. */
  readonly serve: ProtocolFactory;
  /** Decoding a stored session: its frames as the messages they hold. */
  expandEvents(rows: Iterable<EventRow>): Iterable<RecordedEvent>;
  /** Decoding a stored session: its messages as statements with their outcomes. */
  buildTranscript(events: Iterable<RecordedEvent>, sessionStartUs: number): TranscriptEntry[];
  /** Replaying: sends a stored session's client frames to the target again, paced, and collects its answers. */
  replay(rows: Iterable<EventRow>, target: ConnectionConfig, options: ReplayOptions): Promise<ReplayRun>;
  /** Checking an upstream: logs in with the connection's credential; why it cannot, or undefined. */
  checkUpstream(connection: ConnectionConfig, passwords: UpstreamPasswords): Promise<string | undefined>;
  /** Checking an upstream: whether parsed scopes work there (the pinned settings taken), and what they will refuse. */
  checkScopedUpstream(connection: ConnectionConfig, passwords: UpstreamPasswords): Promise<string[]>;
  /** Checking an upstream: what the connection's database role can do beyond its scope. */
  readRolePowers(connection: ConnectionConfig, passwords: UpstreamPasswords): Promise<RolePowers>;
  /** Usage: what recorded statements read and wrote, by the same analysis as the scope check. */
  accessesOfStatements(statements: readonly string[], schema: string): Promise<{ accesses: Access[][]; unanalysable: number }>;
}
