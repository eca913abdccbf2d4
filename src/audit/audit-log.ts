import type { Worker } from 'node:worker_threads';
import type { Logger } from '../logging/logger.js';
import type { LoginAttempt, PendingSegment, SessionEnd, SessionHeader, WriterBatch } from './audit-event.js';
import { SessionRecorder, type RecordMode } from './session-recorder.js';
import { startWriterWorker } from './start-writer-worker.js';
import { WriterLock } from './writer-lock.js';
import { rm, stat } from 'node:fs/promises';
import { journalPath } from './journal-record.js';
import { JournalRecordEncoder } from './journal-record-encoder.js';
import { NodeKey } from '../signing/node-key.js';
import type { Secret } from '../config/secret.js';
import type { JournalRecovery } from './recover-journal.js';
import { THREAD_POOL_MS, WriteAheadJournal, type JournalSource } from './write-ahead-journal.js';
import type { WriterReport, WriterRequest } from './writer-messages.js';
import type { ChainHeads, JournalPosition, Predecessor } from './audit-store.js';
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { centralPredecessor } from './central/central-predecessor.js';
import { connectCentral } from './central/central-target.js';
import { errorMessage } from '../idgate-error.js';
import { CentralShipper, type CentralSettings } from './central/central-shipper.js';
import { AuditError } from './audit-error.js';

/** When recorded sessions stop reading their clients, and when they start again. */
export interface AuditLimits {
  /** Above this many unwritten items (events, session starts and ends, login attempts)… */
  readonly highWater: number;
  /** …or this many unwritten bytes of events… */
  readonly highWaterBytes: number;
  /** …until the writer is back under both of these. */
  readonly lowWater: number;
  readonly lowWaterBytes: number;
}

const DEFAULT_LIMITS: AuditLimits = { highWater: 50_000, highWaterBytes: 64 << 20, lowWater: 10_000, lowWaterBytes: 16 << 20 };

/** How the audit database is opened and written (the `recordings` section). */
export interface AuditLogOptions {
  readonly limits?: AuditLimits;
  /** The fleet node stamped on every session and login attempt. */
  readonly nodeId?: string | null;
  readonly onReplaced?: 'wait' | 'resume';
  /** SQLite's `synchronous`: `normal` survives a killed process, `full` also a power loss (an fsync per commit). */
  readonly sync?: 'normal' | 'full';
  /** Recorded sessions hold each client chunk until it is in the write-ahead journal (afterDurable) before forwarding it. */
  readonly writeAhead?: boolean;
  /** The journal's size past which it is emptied once the database holds all of it (tests make it small). */
  readonly journalLimitBytes?: number;
  /** `recordings.central`: ship everything to a central PostgreSQL store as well. */
  readonly central?: CentralSettings;
  /** The node's private key (PEM): the writer signs the log with it, the journal's records carry its MAC. */
  readonly signingKey?: Secret;
}
const MAX_BATCH = 10_000;
/**
 * Events wait at most this long before going to the writer: one message and one transaction per
 * interval. Each transaction rewrites the b-tree pages it touches (the sessions' progress rows,
 * the segment index) besides the new events, so fewer, larger ones cost markedly less per event:
 * on `npm run bench`, 100 ms took recording's whole-machine cost per transaction from about 7 µs
 * (at 20 ms) to 2–4 µs.
 */
const FLUSH_INTERVAL_MS = 100;

/**
 * The main thread's side of the audit log: sessions hand it events, it sends them to the writer
 * thread in batches (every 100 ms) and tracks how many are unwritten. Nothing
 * is dropped: when the writer falls behind, `congested` tells the relays to stop reading their
 * clients; when the database cannot be written, `healthy` turns false and the gateway fails closed.
 */
export class AuditLog implements JournalSource {
  private starts: SessionHeader[] = [];
  /** Sessions with events since the last batch. */
  private dirty: SessionRecorder[] = [];
  private ends: { sessionId: string; end: SessionEnd }[] = [];
  private logins: LoginAttempt[] = [];
  private pendingCount = 0;
  private pendingBytes = 0;
  private unwritten = 0;
  private unwrittenBytes = 0;
  /** Bytes of each batch sent and not yet acknowledged, oldest first (acks come in order). */
  private readonly inFlightBytes: number[] = [];
  private flushScheduled = false;
  /** The next batch tells the writer to seal the sessions a dead process left open (set once, at open). */
  private sealLeftOpen = false;
  private drainWaiters: (() => void)[] = [];
  private failureListeners: ((message: string) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  /** The writer thread cannot write the database; the journal cannot be appended to. */
  private writerFailing = false;
  private journalFailing = false;
  /** Journal appends on the relay thread that took longer than SLOW_APPEND_MS (the metrics count them). */
  private slowAppends = 0;
  /** More rows wait to be shipped to the central store than `recordings.central.backlog-limit` allows. */
  private backlogFull = false;
  private shipper: CentralShipper | undefined;
  /** Start-up's wait for the writer to recover the journal. */
  private recoveryWaiter: ((result: { position: JournalPosition; recovery: JournalRecovery } | Error) => void) | undefined;
  /** Write-ahead: where recorded events become durable before their frames are forwarded. */
  private journal: WriteAheadJournal | undefined;
  /** Callers waiting for the writer's heads, in the order asked (the writer answers in order). */
  private readonly headsWaiters: ((h: { readonly logId: string; readonly heads: ChainHeads } | undefined) => void)[] = [];
  /** Encodes the journal's records, authenticated with the node key and log id (or a CRC only). */
  private journalEncoder = new JournalRecordEncoder(undefined);
  /** Write-ahead: sessions with events since the journal's last record was cut. */
  private unjournaledSessions: SessionRecorder[] = [];
  /** Anything recorded since the journal's last record was cut. */
  private unjournaledNow = false;
  /** How many of `starts`, `ends` and `logins` the journal already holds. */
  private startsJournaled = 0;
  private endsJournaled = 0;
  private loginsJournaled = 0;
  /** The journal record each batch sent and not yet acknowledged covers (acks come in order). */
  private readonly inFlightJournal: (number | undefined)[] = [];
  /** When each batch in flight was handed to the writer (performance.now()). */
  private readonly inFlightSentAt: number[] = [];
  private batchListener: ((seconds: number) => void) | undefined;
  /** The database file the writer opened (device and inode), to notice it removed or replaced. */
  private fileIdentity: { readonly dev: number; readonly ino: number } | undefined;
  private path = '';

  private constructor(
    private readonly worker: Worker,
    private readonly lock: WriterLock,
    private readonly logger: Logger,
    private readonly limits: AuditLimits,
    /** Whether recorded sessions forward a client's frames only once they are committed. */
    readonly writeAhead: boolean,
  ) {
    worker.on('message', (r: WriterReport) => this.onReport(r));
    worker.on('error', (e) => this.onReport({ type: 'failed', message: e.message }));
  }

  /** Opens (creating and migrating) the database at `path`; throws if that fails, so the gateway does not start. */
  static async open(path: string, logger: Logger, options: AuditLogOptions = {}): Promise<AuditLog> {
    const central = await centralPredecessorOf(path, options, logger);
    const worker = startWriterWorker({
      path,
      nodeId: options.nodeId ?? null,
      onReplaced: options.onReplaced ?? 'wait',
      sync: options.sync ?? 'normal',
      ship: options.central !== undefined,
      ...(options.signingKey !== undefined ? { signingKeyPem: options.signingKey.reveal() } : {}),
      ...(central !== undefined ? { central } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (r: WriterReport): void => {
        worker.off('error', reject);
        if (r.type === 'ready') resolve();
        else {
          reject(new AuditError('audit-unopenable', `cannot open the audit database ${path}: ${r.type === 'failed' ? r.message : r.type}`));
        }
      };
      worker.once('message', onMessage);
      worker.once('error', reject);
    });
    let lock: WriterLock;
    try {
      lock = WriterLock.acquire(path); // the database's directory exists now: the writer created it
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    const log = new AuditLog(worker, lock, logger, options.limits ?? DEFAULT_LIMITS, options.writeAhead ?? false);
    log.path = path;
    const opened = await stat(path).catch(() => undefined);
    if (opened !== undefined) log.fileIdentity = { dev: opened.dev, ino: opened.ino };
    // Only now, holding the lock, may sessions left unsealed be taken for a dead process's.
    try {
      await log.startJournal(path, options);
    } catch (e) {
      await worker.terminate();
      lock.release();
      throw e;
    }
    log.sealLeftOpen = true;
    log.added();
    if (options.central !== undefined) log.startShipping(path, options.central);
    return log;
  }

  /**
   * Holding the lock, before any session is recorded: has the writer apply what a dead process's
   * journal holds beyond the database, then begins this process's journal (write-ahead) or removes
   * the old one (batched).
   */
  private async startJournal(path: string, options: AuditLogOptions): Promise<void> {
    const file = journalPath(path);
    const result = await new Promise<{ position: JournalPosition; recovery: JournalRecovery } | Error>((resolve) => {
      this.recoveryWaiter = resolve;
      const request: WriterRequest = { recoverJournal: file };
      this.worker.postMessage(request);
    });
    this.recoveryWaiter = undefined;
    if (result instanceof Error) throw result;
    const { position, recovery } = result;
    if (recovery.records > 0 || recovery.tornBytes > 0) {
      this.logger.warn(
        { records: recovery.records, events: recovery.events, tornBytes: recovery.tornBytes },
        'recovered what a process that died had recorded in the write-ahead journal',
      );
    }
    if (recovery.refused !== undefined) {
      this.logger.error(
        { reason: 'journal-unauthentic', bytes: recovery.refused.bytes, problem: recovery.refused.reason, file: recovery.refused.keptAt },
        'the write-ahead journal holds bytes this node did not write: refused, not applied (a copy is kept)',
      );
    }
    if (recovery.setAside !== undefined) {
      this.logger.warn({ file: recovery.setAside }, 'a write-ahead journal of another audit database was found and set aside, not applied');
    }
    if (options.writeAhead !== true) {
      await rm(file, { force: true });
      return;
    }
    const journalOptions = {
      sync: options.sync === 'full',
      ...(options.journalLimitBytes !== undefined ? { limitBytes: options.journalLimitBytes } : {}),
    };
    const key = options.signingKey === undefined ? undefined : NodeKey.fromPem(options.signingKey.reveal());
    this.journalEncoder = new JournalRecordEncoder(key?.journalMac(position.logId));
    this.journal = await WriteAheadJournal.open(
      file,
      position.logId,
      position.appliedSeq,
      { ...journalOptions, authenticated: key !== undefined },
      this,
      {
        requestFlush: () => this.flush(),
        onFailure: (message) => {
          this.journalFailing = true;
          this.failed(message);
        },
        onRecovered: () => {
          this.journalFailing = false;
          this.logger.warn('the write-ahead journal is writable again');
        },
        onSlowAppend: (ms) => {
          this.slowAppends += 1;
          this.logger.warn(
            { reason: 'journal-slow-append', ms: Math.round(ms * 10) / 10, seconds: THREAD_POOL_MS / 1000 },
            'a write-ahead journal append made the relay wait; appends go through the thread pool for a while',
          );
        },
      },
    );
  }

  private startShipping(path: string, central: CentralSettings): void {
    this.shipper = CentralShipper.start(path, central, this.logger, (over, message) => {
      this.backlogFull = over;
      if (over) this.failed(message);
      else this.logger.warn('the central audit store caught up below its backlog limit');
    });
  }

  /** Journal appends that made the relay thread wait (each sends the next appends to the thread pool for a while). */
  get journalSlowAppends(): number {
    return this.slowAppends;
  }

  /** The write-ahead journal's appends, and the client chunks held until one had them (0 without write-ahead). */
  get journalCounts(): { readonly appends: number; readonly waits: number } {
    return this.journal?.counts ?? { appends: 0, waits: 0 };
  }

  /** Rows waiting to be shipped to the central store (0 without one). */
  get centralBacklog(): number {
    return this.shipper?.backlog ?? 0;
  }

  private failed(message: string): void {
    this.logger.error({ reason: 'audit-unavailable', err: message }, 'the audit log cannot be written: failing closed');
    for (const listener of this.failureListeners) listener(message);
  }

  get healthy(): boolean {
    return !this.writerFailing && !this.journalFailing && !this.backlogFull;
  }

  get congested(): boolean {
    return this.unwritten > this.limits.highWater || this.unwrittenBytes > this.limits.highWaterBytes;
  }

  private get drained(): boolean {
    return this.unwritten <= this.limits.lowWater && this.unwrittenBytes <= this.limits.lowWaterBytes;
  }

  /** Commands accepted but not yet written. */
  get backlog(): number {
    return this.unwritten;
  }

  onFailure(listener: (message: string) => void): void {
    this.failureListeners.push(listener);
  }

  whenDrained(callback: () => void): void {
    if (this.drained) callback();
    else this.drainWaiters.push(callback);
  }

  startSession(header: SessionHeader, mode: RecordMode): SessionRecorder {
    this.starts.push(header);
    this.added();
    return new SessionRecorder(this, header.id, mode);
  }

  /** A session recorder appended an event of `bytes` to its pending segment. */
  appended(recorder: SessionRecorder, bytes: number): void {
    if (recorder.pending.count === 1) this.dirty.push(recorder); // its first event since the last batch
    if (this.journal !== undefined && recorder.pending.unjournaledCount === 1) this.unjournaledSessions.push(recorder);
    this.pendingBytes += bytes;
    this.unwrittenBytes += bytes;
    this.added();
  }

  /**
   * Write-ahead: calls back once everything recorded so far is durable in the journal, so a
   * session can hold a client's frames until then before it forwards them. If the journal cannot
   * be written, the callback waits for it, and the gateway ends recorded sessions meanwhile.
   * Without write-ahead (`recordings.durability: batched`) it calls back at once.
   */
  afterDurable(callback: () => void): void {
    if (this.journal === undefined) callback();
    else this.journal.afterDurable(callback);
  }

  get unjournaled(): boolean {
    return this.unjournaledNow;
  }

  /** The journal cuts a record: everything recorded since the last one (valid until the next cut). */
  cutRecord(seq: number): Buffer {
    const meta = {
      starts: since(this.starts, this.startsJournaled),
      ends: since(this.ends, this.endsJournaled),
      logins: since(this.logins, this.loginsJournaled),
    };
    this.startsJournaled = this.starts.length;
    this.endsJournaled = this.ends.length;
    this.loginsJournaled = this.logins.length;
    this.unjournaledNow = false;
    const record = this.journalEncoder.encode(seq, meta, this.unjournaledSessions);
    this.unjournaledSessions.length = 0;
    return record;
  }

  endSession(sessionId: string, end: SessionEnd): void {
    this.ends.push({ sessionId, end });
    this.added();
  }

  loginAttempt(attempt: LoginAttempt): void {
    this.logins.push(attempt);
    this.added();
  }

  private added(): void {
    this.unjournaledNow = true;
    this.pendingCount += 1;
    this.unwritten += 1;
    if (this.pendingCount >= MAX_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
    }
  }

  /** Told how long each batch took from hand-over to commit (the metrics' audit write latency). */
  onBatchWritten(listener: (seconds: number) => void): void {
    this.batchListener = listener;
  }

  /**
   * Why the log cannot take records now, or undefined when it can: the writer or journal failing,
   * the central backlog full, or the database file gone or replaced (noticed here at once, not only
   * at the next write).
   */
  async probe(): Promise<string | undefined> {
    if (this.writerFailing) return 'the audit database cannot be written';
    if (this.journalFailing) return 'the write-ahead journal cannot be written';
    if (this.backlogFull) return 'the central store backlog is over its limit';
    try {
      const now = await stat(this.path);
      if (this.fileIdentity !== undefined && (now.dev !== this.fileIdentity.dev || now.ino !== this.fileIdentity.ino)) {
        return 'the audit database file was replaced';
      }
    } catch {
      return 'the audit database file is missing';
    }
    return undefined;
  }

  /** Resolves once everything enqueued so far is written (used at shutdown and by tests). */
  async flushed(): Promise<void> {
    this.flush();
    if (this.unwritten === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Writes what is pending and stops the writer. If the database stays unwritable past the
   * timeout, says how many commands are lost instead of hanging the shutdown.
   */
  async close(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    if ((await Promise.race([this.flushed(), timeout])) === 'timeout') {
      this.logger.error({ reason: 'audit-unavailable', lost: this.unwritten }, 'stopping with audit events that could not be written');
    }
    clearTimeout(timer);
    await this.journal?.close();
    await this.shipper?.stop();
    await this.worker.terminate();
    this.lock.release();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pendingCount === 0) return;
    // The batch covers exactly the journal's records up to this one (cut now), so recovery knows where to resume.
    const journalSeq = this.journal?.cutNow();
    const events: PendingSegment[] = [];
    for (const recorder of this.dirty) events.push({ sessionId: recorder.sessionId, ...recorder.pending.take() });
    const batch: WriterBatch = {
      starts: this.starts,
      events,
      ends: this.ends,
      logins: this.logins,
      ...(this.sealLeftOpen ? { sealLeftOpen: true } : {}),
      ...(journalSeq !== undefined ? { journalSeq } : {}),
    };
    this.startsJournaled = 0;
    this.endsJournaled = 0;
    this.loginsJournaled = 0;
    this.inFlightJournal.push(journalSeq);
    this.inFlightSentAt.push(performance.now());
    this.sealLeftOpen = false;
    this.starts = [];
    this.dirty = [];
    this.ends = [];
    this.logins = [];
    this.pendingCount = 0;
    this.inFlightBytes.push(this.pendingBytes);
    this.pendingBytes = 0;
    // The segments' buffers are handed to the writer thread, not copied.
    this.worker.postMessage(
      batch,
      events.map((e) => e.buffer),
    );
  }

  private batchWritten(sentAt: number | undefined): void {
    if (sentAt !== undefined) this.batchListener?.((performance.now() - sentAt) / 1000);
  }

  private ackedJournal(seq: number | undefined): void {
    if (seq !== undefined) this.journal?.applied(seq);
  }

  private onReport(r: WriterReport): void {
    switch (r.type) {
      case 'ack':
        this.unwritten -= r.commands;
        this.unwrittenBytes -= this.inFlightBytes.shift() ?? 0;
        this.ackedJournal(this.inFlightJournal.shift());
        this.batchWritten(this.inFlightSentAt.shift());
        if (this.drained && this.drainWaiters.length > 0) {
          for (const w of this.drainWaiters.splice(0)) w();
        }
        if (this.unwritten === 0) for (const w of this.idleWaiters.splice(0)) w();
        break;
      case 'failed':
        if (this.recoveryWaiter !== undefined) {
          this.recoveryWaiter(new AuditError('audit-unopenable', r.message));
          break;
        }
        this.writerFailing = true;
        this.failed(`the audit database cannot be written: ${r.message}`);
        break;
      case 'recovered':
        this.writerFailing = false;
        this.logger.warn('the audit database is writable again');
        break;
      case 'journal-recovered':
        this.recoveryWaiter?.({ position: r.position, recovery: r.recovery });
        break;
      case 'orphaned':
        this.logger.warn({ events: r.events }, 'events of sessions missing from the (replaced) audit database were not written');
        break;
      case 'lost':
        this.logger.warn(
          { reason: 'gateway-lost', sessions: r.sessions },
          'sessions a gateway that died had left open were sealed as gateway-lost',
        );
        break;
      case 'heads':
        this.headsWaiters.shift()?.(r.logId === undefined || r.heads === undefined ? undefined : { logId: r.logId, heads: r.heads });
        break;
      case 'ready':
        break;
    }
  }

  /** Where this node's chains stand in what the database holds (for an anchor); undefined while it cannot be written. */
  committedHeads(): Promise<{ readonly logId: string; readonly heads: ChainHeads } | undefined> {
    return new Promise((resolve) => {
      this.headsWaiters.push(resolve);
      const request: WriterRequest = { heads: true };
      this.worker.postMessage(request);
    });
  }
}

const NOTHING_NEW: readonly never[] = [];

/** The items from `from` on; the shared empty array when there are none (most cuts carry events only). */
function since<T>(items: readonly T[], from: number): readonly T[] {
  return items.length > from ? items.slice(from) : NOTHING_NEW;
}

/**
 * No database at `path` yet, and a central store: does it hold a log of this node? Then the new
 * database replaces that one (removed while the gateway was down) and its origin says so. The
 * store unreachable, the start goes on: the journal left beside the path, if any, is asked next.
 */
async function centralPredecessorOf(path: string, options: AuditLogOptions, logger: Logger): Promise<Predecessor | undefined> {
  const nodeId = options.nodeId;
  if (options.central === undefined || nodeId === undefined || nodeId === null || existsSync(path)) return undefined;
  let client: pg.Client | undefined;
  try {
    client = await connectCentral(options.central.target, 'idgate start-up');
    const found = await centralPredecessor(client, nodeId);
    if (found !== undefined) {
      logger.warn(
        { previousLog: found.logId },
        'no audit database at the path, but the central store holds a log of this node: the new database records that it replaces it',
      );
    }
    return found;
  } catch (e) {
    logger.warn(
      { err: errorMessage(e) },
      'the central store could not be asked whether this node had a log before: starting without its answer',
    );
    return undefined;
  } finally {
    await client?.end().catch(() => undefined);
  }
}
