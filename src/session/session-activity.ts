/** What a session is doing now, as `pg_stat_activity` names it. */
export type SessionState = 'idle' | 'active' | 'idle in transaction' | 'idle in transaction (aborted)';

/** The transaction status a protocol reports when the server is ready for the next statement. */
export type TransactionStatus = 'idle' | 'in-transaction' | 'failed';

/**
 * A live session's counters and state, kept in plain fields the relay updates once per round trip
 * (never per frame) and that metrics, `GET /sessions` and the idle timeout read. Times are from
 * `performance.now()` (monotonic, milliseconds), the statement start also as wall-clock.
 */
export class SessionActivity {
  state: SessionState = 'idle';
  /** Round trips completed (a simple Query, or an extended-protocol batch up to its Sync). */
  statements = 0;
  statementMs = 0;
  transactions = 0;
  transactionMs = 0;
  bytesFromClient = 0;
  bytesToClient = 0;
  /** Result rows the client received, and rows its statements wrote (counted at each statement's outcome). */
  rowsReturned = 0;
  rowsAffected = 0;
  /** The client stopped in the middle of a message: the server waits for it, so the session is not busy but stalled. */
  clientMidMessage = false;
  private statementStartedMs = -1;
  private transactionStartedMs: number | undefined;

  /** The client sent something while the server waited for it: a round trip begins. */
  clientSpoke(): void {
    if (this.state === 'active') return;
    this.state = 'active';
    this.statementStartedMs = performance.now();
  }

  /** Wall-clock ms of the last round trip's start (undefined before the first), derived when asked: the relay reads one clock per round trip, not two. */
  get lastStatementAt(): number | undefined {
    return this.statementStartedMs < 0 ? undefined : performance.timeOrigin + this.statementStartedMs;
  }

  /** The server is ready for the next statement, with this transaction status. */
  ready(status: TransactionStatus): void {
    const now = performance.now();
    // Every ReadyForQuery ends one round trip; pipelined ones after the first add no time of their own.
    this.statements += 1;
    if (this.state === 'active') this.statementMs += now - this.statementStartedMs;
    if (status === 'idle') {
      if (this.transactionStartedMs !== undefined) {
        this.transactions += 1;
        this.transactionMs += now - this.transactionStartedMs;
        this.transactionStartedMs = undefined;
      }
      this.state = 'idle';
      return;
    }
    // A transaction began with the round trip that just ended (or earlier, if already open).
    this.transactionStartedMs ??= this.statementStartedMs < 0 ? now : this.statementStartedMs;
    this.state = status === 'failed' ? 'idle in transaction (aborted)' : 'idle in transaction';
  }

  /** Bytes relayed, read by the idle check: unchanged between two looks means nothing moved. */
  get bytesMoved(): number {
    return this.bytesFromClient + this.bytesToClient;
  }
}
