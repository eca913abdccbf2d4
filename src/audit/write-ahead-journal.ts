import { constants } from 'node:fs';
import { fdatasync, ftruncate, writeSync, writev, writevSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../idgate-error.js';
import { open, type FileHandle } from 'node:fs/promises';
import { journalHeader } from './journal-record.js';

/** What the journal takes its records from (the audit log's main-thread side). */
export interface JournalSource {
  /** Whether anything was recorded since the last record was cut. */
  readonly unjournaled: boolean;
  /**
   * Encodes everything recorded since the last cut as record `seq`, and counts it as journaled.
   * The record may lie in a buffer the source reuses: it is valid until the next cut.
   */
  cutRecord(seq: number): Buffer;
}

export interface JournalEvents {
  onFailure(message: string): void;
  onRecovered(): void;
  /** The journal wants the database to catch up with it now (send the writer what is pending). */
  requestFlush(): void;
  /** An append on the relay thread took `ms`: appends go through the thread pool for a while. */
  onSlowAppend(ms: number): void;
}

/** Past this size the journal is emptied (back to its header) as soon as the database holds all of it. */
export const DEFAULT_JOURNAL_LIMIT_BYTES = 16 << 20;
const RETRY_MS = 250;
/**
 * An append on the relay thread slower than this (the kernel throttling a writer under writeback
 * pressure, a stalled disk) sends the appends of the next `THREAD_POOL_MS` to the thread pool, so
 * one stall costs the relay thread once, not at every turn.
 */
export const SLOW_APPEND_MS = 10;
export const THREAD_POOL_MS = 5000;

/**
 * The main thread's write-ahead journal: an append-only file beside the audit database in which
 * what sessions record becomes durable before their frames are forwarded. Appends are one at a
 * time; everything recorded while one is under way, or during one turn of the event loop, goes
 * into the next — group commit, so the cost per statement falls as load rises.
 *
 * With `sync: normal` the promise is that a record survives the gateway being killed: it must be in
 * the kernel's page cache before the frames go upstream, not on the disk. That takes one `writev`
 * into the page cache, a few microseconds, so it is made on the relay thread at the end of the turn
 * (no disk is waited for: nothing is synced). Through libuv's thread pool the same append cost
 * about 10 µs more CPU per transaction, in hand-offs and wake-ups. (Appending each session's chunk
 * at once instead, to forward it in the same read, measured 1–2 µs more CPU per transaction than
 * one append per turn, at the same throughput.) A `writev` the kernel makes wait
 * (writeback throttling, a stalled disk) longer than `SLOW_APPEND_MS` sends the appends of the next
 * `THREAD_POOL_MS` to the thread pool, and is reported. With `sync: full` every append waits for
 * the disk (`fdatasync`), so those always go through the thread pool.
 *
 * The writer thread applies the same records to the database in its own time; the journal is truncated once the database holds all of it, and read back at start-up
 * when a process died first (recover-journal.ts).
 */
export class WriteAheadJournal {
  private lastCut: number;
  private durableSeq: number;
  private appliedSeq: number;
  /** Records cut and not yet appended (each a copy of its own). */
  private queue: Buffer[] = [];
  /** A write, a sync or a truncation is under way: nothing else touches the file. */
  private busy = false;
  private cutScheduled = false;
  /** The append under way was made by the turn's cut, where releasing at once re-enters nothing. */
  private releaseInline = false;
  private cutWhenIdle = false;
  /**
   * Callers waiting for a record to be durable, in order, with the record each waits for; those
   * before `waitHead` were released. Two arrays and an index: a client chunk held costs no object
   * and a release no new array.
   */
  private readonly waitSeqs: number[] = [];
  private readonly waitCallbacks: (() => void)[] = [];
  private waitHead = 0;
  private size: number;
  private failing = false;
  /** Past the limit: no new records until the database holds every one cut so far, then the file is emptied. */
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** Until when (performance.now()) appends go through the thread pool after a slow one on the relay thread. */
  private threadPoolUntil = 0;
  /** Appends made, and callers that waited for one: their ratio is how many chunks each append served (group commit). */
  private appendsMade = 0;
  private waitsMade = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly headerLength: number,
    lastSeq: number,
    private readonly sync: boolean,
    private readonly source: JournalSource,
    private readonly events: JournalEvents,
    private readonly limits: { readonly bytes: number; readonly slowAppendMs: number },
  ) {
    this.lastCut = lastSeq;
    this.durableSeq = lastSeq;
    this.appliedSeq = lastSeq;
    this.size = headerLength;
  }

  /**
   * Begins the journal at `path` afresh (whatever it held was recovered into the database first),
   * for the database with `logId`, numbering records after `lastSeq`.
   */
  static async open(
    path: string,
    logId: string,
    lastSeq: number,
    options: { readonly sync: boolean; readonly limitBytes?: number; readonly authenticated?: boolean; readonly slowAppendMs?: number },
    source: JournalSource,
    events: JournalEvents,
  ): Promise<WriteAheadJournal> {
    const sync = options.sync;
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND;
    const handle = await open(path, flags, 0o600);
    const header = journalHeader(logId, options.authenticated === true);
    try {
      await handle.write(header);
      if (sync) await handle.datasync();
    } catch (e) {
      await handle.close();
      throw e;
    }
    const limits = { bytes: options.limitBytes ?? DEFAULT_JOURNAL_LIMIT_BYTES, slowAppendMs: options.slowAppendMs ?? SLOW_APPEND_MS };
    return new WriteAheadJournal(handle, header.length, lastSeq, sync, source, events, limits);
  }

  /** Calls back once everything recorded so far is in the journal (and on disk, with sync). */
  afterDurable(callback: () => void): void {
    if (this.source.unjournaled) {
      this.wait(this.lastCut + 1, callback);
      this.scheduleCut();
    } else if (this.durableSeq >= this.lastCut) callback();
    else this.wait(this.lastCut, callback);
  }

  private wait(seq: number, callback: () => void): void {
    this.waitSeqs.push(seq);
    this.waitCallbacks.push(callback);
    this.waitsMade += 1;
  }

  /** Appends made so far, and how many `afterDurable` calls had to wait for one. */
  get counts(): { readonly appends: number; readonly waits: number } {
    return { appends: this.appendsMade, waits: this.waitsMade };
  }

  /** Cuts a record of what was recorded so far and starts writing it; returns the last record's seq (what a batch now taken covers). */
  cutNow(): number {
    this.cut();
    this.writeQueued();
    return this.lastCut;
  }

  /** The database holds every record up to `seq`: once it holds all, the file may be emptied. */
  applied(seq: number): void {
    this.appliedSeq = Math.max(this.appliedSeq, seq);
    if (this.draining) this.truncateIfApplied();
  }

  /** Waits for writes under way, empties the file if the database holds everything, and closes it. */
  async close(): Promise<void> {
    if (this.busy || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.appliedSeq >= this.lastCut) await this.handle.truncate(this.headerLength).catch(() => undefined);
    await this.handle.close();
  }

  private scheduleCut(): void {
    if (this.busy || this.draining) this.cutWhenIdle = true;
    else if (!this.cutScheduled) {
      // On the next turn: every session's frames of this turn go into one record.
      this.cutScheduled = true;
      setImmediate(this.cutAtTurnEnd);
    }
  }

  /**
   * The turn's cut. Nothing of a relay is on the stack here, so what the append made durable is
   * released at once: no microtask (in Node each is an async resource of its own) between the
   * append and the held frames going upstream.
   */
  private readonly cutAtTurnEnd = (): void => {
    this.cutScheduled = false;
    this.releaseInline = true;
    try {
      this.cutNow();
    } finally {
      this.releaseInline = false;
    }
  };

  /**
   * Cuts a record of what was recorded since the last one. It lies in the source's buffer until the
   * next cut, so it is appended at once when nothing is before it and appends are made on this
   * thread (the usual case: no copy), and otherwise copied to wait in the queue.
   */
  private cut(): void {
    if (!this.source.unjournaled) return;
    this.lastCut += 1;
    const record = this.source.cutRecord(this.lastCut);
    if (this.busy || this.queue.length > 0 || !this.appendsInline) this.queue.push(Buffer.from(record));
    else {
      this.busy = true;
      this.appendInline(record, this.lastCut, this.size, record.length);
    }
  }

  /** Appends go into the page cache on this thread (sync: normal, and no slow append lately). */
  private get appendsInline(): boolean {
    return !this.sync && performance.now() >= this.threadPoolUntil;
  }

  private writeQueued(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const buffers = this.queue;
    this.queue = [];
    const through = this.lastCut;
    const sizeBefore = this.size;
    let total = 0;
    for (const b of buffers) total += b.length;
    if (this.appendsInline) this.appendInline(buffers, through, sizeBefore, total);
    else this.appendInThreadPool(buffers, through, sizeBefore, total);
  }

  /**
   * One writev into the page cache, on this thread: durable on return. The waiters are released at
   * once by the turn's cut, and otherwise in a microtask, not from inside the caller: a cut may be
   * asked for while a session is mid-frame (a batch filled up), and releasing held frames then
   * would re-enter its relay.
   */
  private appendInline(records: Buffer | Buffer[], through: number, sizeBefore: number, total: number): void {
    const started = performance.now();
    let written: number;
    try {
      written = Buffer.isBuffer(records) ? writeSync(this.handle.fd, records) : writevSync(this.handle.fd, records);
    } catch (e) {
      this.retry(copies(records), sizeBefore, errorMessage(e));
      return;
    }
    const took = performance.now() - started;
    if (took > this.limits.slowAppendMs) {
      this.threadPoolUntil = performance.now() + THREAD_POOL_MS;
      this.events.onSlowAppend(took);
    }
    if (written !== total) {
      this.retry(copies(records), sizeBefore, `short write (${written} of ${total} bytes)`);
      return;
    }
    this.size += written;
    this.appendsMade += 1;
    this.durableSeq = through;
    this.busy = false;
    if (this.releaseInline) this.release();
    else queueMicrotask(this.release);
  }

  private appendInThreadPool(buffers: Buffer[], through: number, sizeBefore: number, total: number): void {
    writev(this.handle.fd, buffers, (error, written) => {
      if (error !== null || written !== total) {
        this.retry(buffers, sizeBefore, error?.message ?? `short write (${written} of ${total} bytes)`);
        return;
      }
      this.size += written;
      this.appendsMade += 1;
      if (!this.sync) this.written(through);
      else fdatasync(this.handle.fd, (e) => (e === null ? this.written(through) : this.retry(buffers, sizeBefore, e.message)));
    });
  }

  private written(through: number): void {
    this.busy = false;
    this.durableSeq = through;
    this.release();
  }

  /** Releases the waiters on records now durable, in order, and goes on with what waits for the file. */
  private readonly release = (): void => {
    // An append started below (by `idle`) releases in a microtask: this loop's indexes must hold.
    this.releaseInline = false;
    const from = this.waitHead;
    const seqs = this.waitSeqs;
    let to = from;
    while (to < seqs.length && (seqs[to] ?? Infinity) <= this.durableSeq) to += 1;
    this.waitHead = to;
    if (this.failing) {
      this.failing = false;
      this.events.onRecovered();
    }
    this.idle();
    // Callbacks may add waiters (behind these); none releases synchronously, so the indexes hold.
    for (let i = from; i < to; i++) this.waitCallbacks[i]?.();
    this.forgetReleased();
  };

  /** Drops the released waiters: all of them when none is left waiting, which is the usual case. */
  private forgetReleased(): void {
    if (this.waitHead === 0) return;
    if (this.waitHead === this.waitSeqs.length) {
      this.waitSeqs.length = 0;
      this.waitCallbacks.length = 0;
    } else {
      this.waitSeqs.splice(0, this.waitHead);
      this.waitCallbacks.splice(0, this.waitHead);
    }
    this.waitHead = 0;
  }

  /**
   * An append failed (a full disk): what it may have left is cut off, so the file never holds a
   * torn record before a good one, and the same records are tried again. Sessions waiting on them
   * wait; the audit log fails closed meanwhile.
   */
  private retry(buffers: Buffer[], sizeBefore: number, message: string): void {
    this.queue.unshift(...buffers);
    if (!this.failing) {
      this.failing = true;
      this.events.onFailure(`the write-ahead journal cannot be written: ${message}`);
    }
    setTimeout(() => {
      ftruncate(this.handle.fd, sizeBefore, () => {
        this.size = sizeBefore;
        this.busy = false;
        this.writeQueued();
      });
    }, RETRY_MS).unref();
  }

  /**
   * Between two appends. Past the limit, and under a steady load the database is always a little
   * behind the journal, so the file would never be found wholly applied: new records wait (their
   * sessions a few milliseconds) while the writer is sent what is pending, and once it holds
   * everything the file is emptied. `busy` is cleared by whoever finished an append, not here: a
   * release after an inline append may find another append under way.
   */
  private idle(): void {
    if (!this.draining && this.size > this.limits.bytes) {
      this.draining = true;
      this.events.requestFlush();
    }
    if (this.cutWhenIdle && !this.draining) {
      this.cutWhenIdle = false;
      this.cut();
    }
    this.writeQueued();
    if (this.draining) this.truncateIfApplied();
    if (!this.busy && !this.draining) for (const w of this.idleWaiters.splice(0)) w();
  }

  private truncateIfApplied(): void {
    if (this.busy || this.queue.length > 0 || this.appliedSeq < this.lastCut) return;
    this.busy = true;
    ftruncate(this.handle.fd, this.headerLength, (e) => {
      if (e === null) this.size = this.headerLength;
      this.busy = false;
      this.draining = false;
      this.idle();
    });
  }
}

/** What a failed inline append retries: records of their own (a record cut at once lies in the source's buffer). */
function copies(records: Buffer | Buffer[]): Buffer[] {
  return Buffer.isBuffer(records) ? [Buffer.from(records)] : records;
}
