/**
 * What the audit log stores, independent of the wire protocol: a protocol names its own message
 * kinds ('Query', 'Bind', 'CommandComplete', …) and fields; the log orders, timestamps and chains them.
 */
export type Direction = 'client' | 'server' | 'gateway';

export interface AuditEvent {
  /** Microseconds since the epoch, when the gateway saw it. */
  readonly atUs: number;
  readonly direction: Direction;
  readonly kind: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Set on the server's answer to a statement, so the session summary can count statements and errors. */
  readonly outcome?: 'ok' | 'error';
}

export interface SessionHeader {
  readonly id: string;
  readonly protocol: string;
  readonly startedAtUs: number;
  readonly identity: {
    readonly objectId: string;
    readonly appId: string;
    readonly tenantId: string;
    readonly displayName?: string;
  };
  /** The client's own label (the startup `user`): recorded, not trusted. */
  readonly clientUser: string;
  readonly mapping: {
    /** The entry that admitted the session, as policy/entry-name.ts's `entryRecord` names it. */
    readonly entry: string;
    readonly connection: string;
    readonly scope: string;
    readonly record: boolean | 'full';
  };
  readonly clientAddress: string;
  readonly clientTls: boolean;
  /** host:port/database of the upstream. */
  readonly upstream: string;
}

export interface SessionEnd {
  readonly endedAtUs: number;
  readonly reason: string;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** Result rows the client received and rows written; absent when not known (a session lost with its gateway). */
  readonly rowsReturned?: number;
  readonly rowsAffected?: number;
}

export interface LoginAttempt {
  readonly atUs: number;
  readonly accepted: boolean;
  /** A stable code: 'accepted', or why it was refused ('token-expired', 'not-mapped', …). */
  readonly reason: string;
  readonly message: string;
  readonly sessionId?: string;
  readonly objectId?: string;
  readonly appId?: string;
  readonly connection?: string;
  readonly clientUser?: string;
  readonly clientAddress: string;
}

/** A session's new events in one batch: a built segment (event-segment.ts) on its own ArrayBuffer. */
export interface PendingSegment {
  readonly sessionId: string;
  readonly buffer: ArrayBuffer;
  /** Bytes of `buffer` in use. */
  readonly length: number;
  /** Events in it. */
  readonly count: number;
}

/**
 * What the main thread sends the writer in one batch, applied in this order: sessions that
 * started, the new events of each session (oldest first), sessions that ended, login attempts. A
 * session's start always reaches the writer before its events, its end after them.
 */
export interface WriterBatch {
  readonly starts: readonly SessionHeader[];
  readonly events: readonly PendingSegment[];
  readonly ends: readonly { readonly sessionId: string; readonly end: SessionEnd }[];
  readonly logins: readonly LoginAttempt[];
  /**
   * Seal, before anything else, every session the database holds unsealed: sent once, right after
   * this process took the writer lock, when no other live process can be writing them.
   */
  readonly sealLeftOpen?: boolean;
  /** Write-ahead: the last journal record this batch covers; the database stores it with the batch, so recovery replays only what follows. */
  readonly journalSeq?: number;
}

/** The number of items a batch carries (what the writer acknowledges). */
export function batchSize(b: WriterBatch): number {
  let n = b.starts.length + b.ends.length + b.logins.length + (b.sealLeftOpen === true ? 1 : 0);
  for (const e of b.events) n += e.count;
  return n;
}

/** Read once: `performance.timeOrigin` is a getter, and nowMicros runs for every recorded event. */
const TIME_ORIGIN = performance.timeOrigin;

/** Microseconds since the epoch, from the monotonic clock (so events never go backwards). */
export function nowMicros(): number {
  return Math.round((TIME_ORIGIN + performance.now()) * 1000);
}
