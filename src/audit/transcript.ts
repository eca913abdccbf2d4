/** A session read back as statements, the form `idgate show` prints and replay compares. */

export interface StatementResult {
  readonly tag: string;
  readonly rows?: number;
}

export interface StatementOutcome {
  /** ok: completed; error: the server refused it; skipped: an earlier error in the same pipeline; pending: no answer recorded. */
  readonly status: 'ok' | 'error' | 'skipped' | 'pending';
  readonly results: readonly StatementResult[];
  readonly sqlstate?: string;
  readonly message?: string;
  /**
   * `gateway`: the gateway refused the statement itself (its scope or its analysis) and the server
   * never ran it — known from the gateway's own record, never from the error's text, so a server
   * error that copies the gateway's words is still a server error.
   */
  readonly refusedBy?: 'gateway';
}

export interface TranscriptStatement {
  readonly type: 'statement';
  /** 1-based position in the session. */
  readonly n: number;
  /** Microseconds from the session's start to the statement's first frame. */
  readonly offsetUs: number;
  /** From the statement's first frame to its outcome; null when no outcome was recorded. */
  readonly durationUs: number | null;
  readonly protocol: 'simple' | 'extended' | 'function-call';
  readonly sql: string;
  readonly statementName?: string;
  readonly params?: readonly unknown[];
  readonly outcome: StatementOutcome;
  readonly notices?: readonly string[];
  /** Bytes of COPY data the client sent for it. */
  readonly copyBytes?: number;
  /**
   * What left the database for it: result rows the client received, rows it wrote, and the bytes
   * sent to the client since the previous statement's outcome up to its own (absent in sessions
   * recorded before these were counted).
   */
  readonly delivered?: { readonly returned: number; readonly affected: number; readonly bytes: number };
}

export interface TranscriptNote {
  readonly type: 'note';
  readonly offsetUs: number;
  readonly kind: string;
  readonly detail?: string;
}

export type TranscriptEntry = TranscriptStatement | TranscriptNote;

/** The events of one session as the transcript builders read them (a stored row, parsed). */
export interface RecordedEvent {
  readonly seq: number;
  readonly atUs: number;
  readonly direction: string;
  readonly kind: string;
  readonly data: Record<string, unknown>;
}
