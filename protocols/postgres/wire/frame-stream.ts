import { InvariantError } from '../../../src/idgate-error.js';
import { FrameHeaders, frameBuffer, HEADER_LENGTH as HEADER } from './frame-headers.js';

/** A stage's answer at a frame's header: not interested; see it whole as it goes on; hold it whole and judge it; drop it unread. */
export const PASS = 0;
export const SEE = 1;
export const HOLD = 2;
export const DROP = 3;
/** …or a Buffer: the frame is dropped unread and these (gateway-made, whole) frames go on in its place. */
export type HeaderAction = typeof PASS | typeof SEE | typeof HOLD | typeof DROP | Buffer;

/** A held frame's verdict that is not known yet: the stream stops there until the stage settles it. */
export const PENDING: unique symbol = Symbol('pending');
/** A held frame's verdict: undefined keeps it, a Buffer replaces it (empty: drops it), PENDING decides later. */
export type FrameVerdict = Buffer | undefined | typeof PENDING;

/**
 * One step a direction's frames pass through, in order. Each stage hears only of the frame types
 * its `interest` marks; what it answers at a frame's header says what it needs of the frame.
 */
export interface FrameStage {
  /** interest[type byte] non-zero: `header` is called for frames of that type (the others pass it untouched). */
  readonly interest: Uint8Array;
  header(code: number, length: number): HeaderAction;
  /** A frame this stage SEEs, whole: `bytes[start, end)`, header included, valid only during the call. */
  see?(code: number, bytes: Buffer, start: number, end: number): void;
  /** A frame this stage HOLDs, whole (as for `see`): its verdict. */
  judge?(code: number, bytes: Buffer, start: number, end: number): FrameVerdict;
  /** For a stage that answers PENDING: calls back once with the verdict. */
  whenSettled?(callback: (verdict: Buffer | undefined) => void): void;
  /** Every frame read so far has been handed on (the end of one read: the recorder's event boundary). */
  chunkEnd?(): void;
}

/** Told of the bytes a stream holds while it assembles a frame (the gateway's memory budget). */
export interface HoldAccount {
  /** Counts bytes held whatever the total (a held frame, bounded by its stage). */
  reserve(bytes: number): void;
  /** Counts them only if they fit now; false: nothing counted, the stream must wait. */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
  /** Calls back once, at the next release. */
  whenReleased(callback: () => void): void;
}

export interface FrameStreamOptions {
  /** The largest frame, type byte included: a longer one is refused at its header, before any of it is held or passed on. */
  readonly maxFrame?: number;
  /** The configuration key that sets `maxFrame`, named in the refusal. */
  readonly limitName?: string;
  readonly account?: HoldAccount;
}

const BETWEEN = 0;
/** The frame's body passes on as it comes (copied for the stages that see it, when it straddles reads). */
const STREAM = 1;
/** The frame's body is dropped unread. */
const SKIP = 2;
/** The frame's body is held until whole, then judged. */
const HOLDING = 3;
const STOPPED_PENDING = 1;
const STOPPED_BLOCKED = 2;
const NOTHING: readonly Buffer[] = [];

/**
 * One direction of a session: reads each frame's header once, asks the stages in order what to do
 * with the frame, and returns what goes on — runs of the input as views where nothing changed (the
 * whole chunk itself when nothing did), replacements where a stage made them. A frame held for
 * judgement is assembled (and counted in the memory budget) only when it straddles reads; a frame
 * seen as it passes is copied only then too. The stream stops at a frame whose verdict is pending,
 * or whose assembly the budget cannot take yet; what arrives meanwhile is kept, in order, and read
 * once `whenReady` calls back and `resume` is called.
 */
export class FrameStream {
  private readonly headers: FrameHeaders;
  private readonly interests: readonly Uint8Array[];
  /** Any stage's interest, per type byte: a frame no stage asked about costs one lookup. */
  private readonly anyInterest = new Uint8Array(256);
  private readonly enders: readonly FrameStage[];
  private readonly account: HoldAccount | undefined;
  private state = BETWEEN;
  private code = 0;
  private length = 0;
  /** Body bytes of the current frame still to come. */
  private remaining = 0;
  /** The current frame, assembled (held, or copied for the stages that see it). */
  private assembly: Buffer | undefined;
  private filled = 0;
  private holder = -1;
  /** The stage whose header answer `ask` returned. */
  private actor = -1;
  /** The stages that see the current frame once whole, in order. */
  private readonly seers: number[] = [];
  private seerCount = 0;
  private stopped = 0;
  private late: { readonly frame: Buffer; readonly holder: number; settled: boolean; verdict: Buffer | undefined } | undefined;
  /** The budget took the blocked frame's assembly (whenReady reserved it). */
  private blockedReserved = false;
  private readyCallback: (() => void) | undefined;
  /** Input read while stopped, or after the stop point, kept (copied) in order. */
  private readonly queue: Buffer[] = [];
  /** The chunk being read and where its current run of unchanged bytes began. */
  private chunk: Buffer = Buffer.alloc(0);
  private run = 0;
  private readonly out: Buffer[] = [];

  constructor(
    private readonly stages: readonly FrameStage[],
    options: FrameStreamOptions = {},
  ) {
    this.headers = new FrameHeaders((options.maxFrame ?? 0x80000000) - 1, options.limitName);
    this.interests = stages.map((s) => s.interest);
    for (const interest of this.interests) for (let c = 0; c < 256; c++) if (interest[c] !== 0) this.anyInterest[c] = 1;
    this.enders = stages.filter((s) => s.chunkEnd !== undefined);
    this.account = options.account;
  }

  /** What goes on for `chunk`: the chunk itself, or the pieces to send in order (nothing while stopped). */
  push(chunk: Buffer): Buffer | readonly Buffer[] {
    if (this.stopped !== 0) {
      this.queue.push(Buffer.from(chunk));
      return NOTHING;
    }
    try {
      this.read(chunk, false);
    } finally {
      this.endChunk();
    }
    return this.result();
  }

  /** Like `push`, but only as far as what goes on reaches a frame boundary (the stream is ending); the rest is not read. */
  pushUntilBoundary(chunk: Buffer): Buffer | readonly Buffer[] {
    if (this.stopped !== 0) return NOTHING;
    try {
      this.read(chunk, true);
    } finally {
      this.endChunk();
    }
    return this.result();
  }

  /** A frame's verdict is pending, or its assembly waits for the budget: push() keeps what comes until `resume`. */
  get isStopped(): boolean {
    return this.stopped !== 0;
  }

  /** Calls back once the stream may `resume` (at once, in a microtask, if it may now). */
  whenReady(callback: () => void): void {
    if (this.stopped === STOPPED_PENDING && this.late?.settled !== true) this.readyCallback = callback;
    else if (this.stopped === STOPPED_BLOCKED && !this.blockedReserved) this.retryBudget(callback);
    else queueMicrotask(callback);
  }

  /** Goes on after a stop: the settled frame, then what was kept, as far as it can go now. */
  resume(): Buffer | readonly Buffer[] {
    try {
      if (!this.restart()) return NOTHING;
      while (this.stopped === 0 && this.queue.length > 0) this.read(this.queue.shift() as Buffer, false);
    } finally {
      this.endChunk();
    }
    return this.result();
  }

  /** What went on ends at a frame boundary (the gateway may add a message of its own). */
  get outputAtBoundary(): boolean {
    return this.state !== STREAM && this.stopped !== STOPPED_BLOCKED;
  }

  /** No frame of the input is read in part. */
  get inputAtBoundary(): boolean {
    return this.state === BETWEEN && this.headers.atBoundary && this.stopped !== STOPPED_BLOCKED;
  }

  /** The stream ends mid-frame: give back what an assembly held. */
  abandon(): void {
    if (this.assembly !== undefined) this.account?.release(this.assembly.length);
    if (this.blockedReserved) this.account?.release(this.length + 1);
    this.assembly = undefined;
    this.blockedReserved = false;
  }

  private read(chunk: Buffer, untilBoundary: boolean): void {
    this.chunk = chunk;
    this.run = 0;
    let p = 0;
    try {
      while (p < chunk.length && this.stopped === 0) {
        if (untilBoundary && this.outputAtBoundary) break;
        p = this.state === BETWEEN ? this.header(chunk, p) : this.body(chunk, p);
      }
    } catch (e) {
      this.out.length = 0;
      throw e;
    }
    if (this.stopped !== 0 && p < chunk.length) this.queue.unshift(Buffer.from(chunk.subarray(p)));
    this.flush(p);
  }

  private header(chunk: Buffer, p: number): number {
    const headers = this.headers;
    if (headers.wholeAt(chunk, p)) {
      headers.readWhole(chunk, p);
      return this.begin(chunk, p, true);
    }
    this.flush(p);
    const next = headers.readSplit(chunk, p);
    this.run = next;
    return headers.atBoundary ? this.begin(chunk, next, false) : next;
  }

  private body(chunk: Buffer, p: number): number {
    const step = Math.min(this.remaining, chunk.length - p);
    const assembly = this.assembly;
    if (assembly !== undefined) {
      chunk.copy(assembly, this.filled, p, p + step);
      this.filled += step;
    }
    // A held or dropped body leaves the run; a streamed one is part of it.
    if (this.state !== STREAM) {
      this.flush(p);
      this.run = p + step;
    }
    this.remaining -= step;
    if (this.remaining > 0) return p + step;
    const held = this.state === HOLDING;
    this.state = BETWEEN;
    if (assembly !== undefined) {
      this.assembly = undefined;
      this.account?.release(assembly.length);
      if (held) this.judge(assembly, 0, assembly.length, false);
      else this.tellSeers(this.code, assembly, 0, assembly.length);
    }
    return p + step;
  }

  /** A header is read: `p` is the frame's start when the header lies in the chunk (`inChunk`), else its body's. */
  private begin(chunk: Buffer, p: number, inChunk: boolean): number {
    const { code, length } = this.headers;
    const bodyStart = inChunk ? p + HEADER : p;
    const frameEnd = bodyStart + length - 4;
    const whole = inChunk && frameEnd <= chunk.length;
    this.code = code;
    this.length = length;
    this.seerCount = 0;
    const action = this.anyInterest[code] === 0 ? PASS : this.ask(code, length, 0);
    if (action === PASS) {
      if (!inChunk) this.out.push(Buffer.from(this.headers.lastHeader));
      if (this.seerCount === 0) return this.startBody(STREAM, bodyStart, whole ? frameEnd : -1);
      if (whole) this.tellSeers(this.code, chunk, p, frameEnd);
      else if (length === 4) this.tellSeers(this.code, frameBuffer(code, length), 0, HEADER);
      else if (!this.startAssembly(false)) {
        this.stopped = STOPPED_BLOCKED;
        return bodyStart;
      }
      return this.startBody(STREAM, bodyStart, whole ? frameEnd : -1);
    }
    if (action === HOLD) {
      this.holder = this.actor;
      if (whole) {
        this.judge(chunk, p, frameEnd, true);
        return frameEnd;
      }
      if (inChunk) this.flush(p);
      if (length === 4) {
        const frame = frameBuffer(code, length);
        this.judge(frame, 0, HEADER, false);
        return bodyStart;
      }
      this.startAssembly(true);
      return this.startBody(HOLDING, bodyStart, -1);
    }
    if (inChunk) this.flush(p);
    if (action !== DROP) this.passOn(this.actor + 1, action, 0, action.length, false);
    return this.startBody(SKIP, bodyStart, -1);
  }

  /**
   * Asks the stages from `from` on about a frame at its header, noting those that SEE it, up to
   * the first that does more: its answer is returned and its index left in `actor`.
   */
  private ask(code: number, length: number, from: number): Exclude<HeaderAction, typeof SEE> {
    for (let i = from; i < this.stages.length; i++) {
      if (this.interests[i]?.[code] === 0) continue;
      const action = (this.stages[i] as FrameStage).header(code, length);
      if (action === SEE) this.seers[this.seerCount++] = i;
      else if (action !== PASS) {
        this.actor = i;
        return action;
      }
    }
    return PASS;
  }

  /** Where the frame's body goes: past it at once when it lies whole in the chunk (`frameEnd` ≥ 0), else read in `state`. */
  private startBody(state: number, bodyStart: number, frameEnd: number): number {
    if (frameEnd >= 0) return frameEnd;
    this.remaining = this.length - 4;
    this.state = this.remaining === 0 ? BETWEEN : state;
    if (state !== STREAM) this.run = bodyStart;
    return bodyStart;
  }

  /** Begins assembling the current frame: a held one is counted whatever the total, a seen one only if it fits now. */
  private startAssembly(held: boolean): boolean {
    const bytes = this.length + 1;
    if (held) this.account?.reserve(bytes);
    else if (this.account !== undefined && !this.account.tryReserve(bytes)) return false;
    this.assembly = frameBuffer(this.code, this.length);
    this.filled = HEADER;
    return true;
  }

  /**
   * A held frame is whole: the stages before its holder that see it are told, the holder judges
   * it, and what it lets on meets the stages after it. `inRun`: the frame lies in the chunk's
   * current run and, kept by every stage, stays in it.
   */
  private judge(bytes: Buffer, start: number, end: number, inRun: boolean): void {
    this.tellSeers(this.code, bytes, start, end);
    const holder = this.holder;
    const verdict = (this.stages[holder] as FrameStage).judge?.(this.code, bytes, start, end);
    if (verdict === undefined) {
      this.passOn(holder + 1, bytes, start, end, inRun);
      return;
    }
    if (inRun) this.leaveRun(start, end);
    if (verdict === PENDING) this.stopAt(Buffer.from(bytes.subarray(start, end)), holder);
    else this.passOn(holder + 1, verdict, 0, verdict.length, false);
  }

  /** The run's frame at `[start, end)` does not go on as it is: the run before it goes, and the run starts again after it. */
  private leaveRun(start: number, end: number): void {
    this.flush(start);
    this.run = end;
  }

  private stopAt(frame: Buffer, holder: number): void {
    const stage = this.stages[holder] as FrameStage;
    if (stage.whenSettled === undefined) throw new InvariantError('a stage answered PENDING without whenSettled');
    const late = { frame, holder, settled: false, verdict: undefined as Buffer | undefined };
    this.late = late;
    this.stopped = STOPPED_PENDING;
    stage.whenSettled((verdict) => {
      late.settled = true;
      late.verdict = verdict;
      const ready = this.readyCallback;
      this.readyCallback = undefined;
      ready?.();
    });
  }

  /**
   * Whole frames (`bytes[start, end)`) that went past stage `from - 1` meet the stages from `from`
   * on, then go on. `inRun`: they are one frame of the chunk's current run, which they stay in
   * unless a stage changes them.
   */
  private passOn(from: number, bytes: Buffer, start: number, end: number, inRun: boolean): void {
    let p = start;
    while (p < end) {
      const code = bytes[p] ?? 0;
      const length = bytes.readInt32BE(p + 1);
      // Gateway-made frames: a bad length here is a bug, and must not loop or misreport.
      if (length < 4 || p + length + 1 > end) throw new InvariantError(`a frame the gateway sends has length ${length}`);
      const frameEnd = p + length + 1;
      this.seerCount = 0;
      const action = this.anyInterest[code] === 0 ? PASS : this.ask(code, length, from);
      this.tellSeers(code, bytes, p, frameEnd);
      if (action === PASS) {
        if (!inRun) this.out.push(p === 0 && frameEnd === bytes.length ? bytes : bytes.subarray(p, frameEnd));
      } else {
        if (inRun) this.leaveRun(p, frameEnd);
        inRun = false;
        const at = this.actor;
        const verdict = action === HOLD ? (this.stages[at] as FrameStage).judge?.(code, bytes, p, frameEnd) : action;
        if (verdict === PENDING) throw new InvariantError('a stage answered PENDING for a frame already judged');
        if (verdict === undefined) this.passOn(at + 1, bytes, p, frameEnd, false);
        else if (verdict !== DROP) this.passOn(at + 1, verdict, 0, verdict.length, false);
      }
      p = frameEnd;
    }
  }

  private tellSeers(code: number, bytes: Buffer, start: number, end: number): void {
    for (let i = 0; i < this.seerCount; i++) (this.stages[this.seers[i] as number] as FrameStage).see?.(code, bytes, start, end);
    this.seerCount = 0;
  }

  /** Sends the current run of the chunk up to `end` on unchanged, as a view (the chunk itself when it is all of it). */
  private flush(end: number): void {
    const { chunk, run } = this;
    if (end > run) this.out.push(run === 0 && end === chunk.length ? chunk : chunk.subarray(run, end));
    this.run = end;
  }

  /** After a stop: true when the stream may read on (the pending frame settled and passed on, or the blocked assembly begun). */
  private restart(): boolean {
    if (this.stopped === STOPPED_PENDING) {
      const late = this.late;
      if (late?.settled !== true) return false;
      this.stopped = 0;
      this.late = undefined;
      const goesOn = late.verdict ?? late.frame;
      this.passOn(late.holder + 1, goesOn, 0, goesOn.length, false);
    } else if (this.stopped === STOPPED_BLOCKED) {
      if (!this.blockedReserved && this.account !== undefined && !this.account.tryReserve(this.length + 1)) return false;
      this.blockedReserved = false;
      this.stopped = 0;
      this.assembly = frameBuffer(this.code, this.length);
      this.filled = HEADER;
      this.remaining = this.length - 4;
      this.state = STREAM;
    }
    return true;
  }

  private retryBudget(callback: () => void): void {
    const account = this.account;
    if (account === undefined) {
      queueMicrotask(callback);
      return;
    }
    account.whenReleased(() => {
      if (this.stopped !== STOPPED_BLOCKED) return;
      if (!account.tryReserve(this.length + 1)) {
        this.retryBudget(callback);
        return;
      }
      this.blockedReserved = true;
      callback();
    });
  }

  private endChunk(): void {
    for (const stage of this.enders) stage.chunkEnd?.();
  }

  private result(): Buffer | readonly Buffer[] {
    const out = this.out;
    if (out.length === 1) {
      const only = out[0] as Buffer;
      out.length = 0;
      return only;
    }
    return out.length === 0 ? NOTHING : out.splice(0);
  }
}
