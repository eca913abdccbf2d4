import { FrameHeaders, frameBuffer, HEADER_LENGTH as HEADER } from './frame-headers.js';
import { DROP, HOLD, PASS, type FrameStage, type HoldAccount } from './frame-stage.js';
import { NOTHING, OutputRuns } from './output-runs.js';
import { StageChain } from './stage-chain.js';
import { ASSEMBLY_TAKEN, AWAITING_BUDGET, RUNNING, StreamStop } from './stream-stop.js';

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
  private readonly chain: StageChain;
  private readonly output = new OutputRuns();
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
  private readonly stop: StreamStop;
  /** Input read while stopped, or after the stop point, kept (copied) in order. */
  private readonly queue: Buffer[] = [];

  constructor(stages: readonly FrameStage[], options: FrameStreamOptions = {}) {
    this.headers = new FrameHeaders((options.maxFrame ?? 0x80000000) - 1, options.limitName);
    this.account = options.account;
    this.stop = new StreamStop(options.account);
    this.chain = new StageChain(stages, this.output, this.stop);
  }

  /** What goes on for `chunk`: the chunk itself, or the pieces to send in order (nothing while stopped). */
  push(chunk: Buffer): Buffer | readonly Buffer[] {
    if (this.stop.state !== RUNNING) {
      this.queue.push(Buffer.from(chunk));
      return NOTHING;
    }
    try {
      this.read(chunk, false);
    } finally {
      this.endChunk();
    }
    return this.output.take();
  }

  /** Like `push`, but only as far as what goes on reaches a frame boundary (the stream is ending); the rest is not read. */
  pushUntilBoundary(chunk: Buffer): Buffer | readonly Buffer[] {
    if (this.stop.state !== RUNNING) return NOTHING;
    try {
      this.read(chunk, true);
    } finally {
      this.endChunk();
    }
    return this.output.take();
  }

  /** A frame's verdict is pending, or its assembly waits for the budget: push() keeps what comes until `resume`. */
  get isStopped(): boolean {
    return this.stop.state !== RUNNING;
  }

  /** Calls back once the stream may `resume` (at once, in a microtask, if it may now). */
  whenReady(callback: () => void): void {
    this.stop.whenReady(callback);
  }

  /** Goes on after a stop: the settled frame, then what was kept, as far as it can go now. */
  resume(): Buffer | readonly Buffer[] {
    try {
      if (!this.restart()) return NOTHING;
      while (this.stop.state === RUNNING && this.queue.length > 0) this.read(this.queue.shift() as Buffer, false);
    } finally {
      this.endChunk();
    }
    return this.output.take();
  }

  /** What went on ends at a frame boundary (the gateway may add a message of its own). */
  get outputAtBoundary(): boolean {
    return this.state !== STREAM && this.stop.state !== AWAITING_BUDGET;
  }

  /** No frame of the input is read in part. */
  get inputAtBoundary(): boolean {
    return this.state === BETWEEN && this.headers.atBoundary && this.stop.state !== AWAITING_BUDGET;
  }

  /** The stream ends mid-frame: give back what an assembly held. */
  abandon(): void {
    if (this.assembly !== undefined) this.account?.release(this.assembly.length);
    this.assembly = undefined;
    this.stop.abandon();
  }

  private read(chunk: Buffer, untilBoundary: boolean): void {
    this.output.begin(chunk);
    let p = 0;
    try {
      const stop = this.stop;
      while (p < chunk.length && stop.state === RUNNING) {
        if (untilBoundary && this.outputAtBoundary) break;
        p = this.state === BETWEEN ? this.header(chunk, p) : this.body(chunk, p);
      }
    } catch (e) {
      this.output.discard();
      throw e;
    }
    if (this.stop.state !== RUNNING && p < chunk.length) this.queue.unshift(Buffer.from(chunk.subarray(p)));
    this.output.flush(p);
  }

  private header(chunk: Buffer, p: number): number {
    const headers = this.headers;
    if (headers.wholeAt(chunk, p)) {
      headers.readWhole(chunk, p);
      return this.begin(chunk, p, true);
    }
    this.output.flush(p);
    const next = headers.readSplit(chunk, p);
    this.output.restartAt(next);
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
      this.output.flush(p);
      this.output.restartAt(p + step);
    }
    this.remaining -= step;
    if (this.remaining > 0) return p + step;
    const held = this.state === HOLDING;
    this.state = BETWEEN;
    if (assembly !== undefined) {
      this.assembly = undefined;
      this.account?.release(assembly.length);
      if (held) this.chain.judge(this.holder, this.code, assembly, 0, assembly.length, false);
      else this.chain.tellSeers(this.code, assembly, 0, assembly.length);
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
    const chain = this.chain;
    chain.seerCount = 0;
    const action = chain.anyInterest[code] === 0 ? PASS : chain.ask(code, length, 0);
    if (action === PASS) {
      if (!inChunk) this.output.add(Buffer.from(this.headers.lastHeader));
      if (chain.seerCount === 0) return this.startBody(STREAM, bodyStart, whole ? frameEnd : -1);
      if (whole) chain.tellSeers(code, chunk, p, frameEnd);
      else if (length === 4) chain.tellSeers(code, frameBuffer(code, length), 0, HEADER);
      else if (!this.startAssembly(false)) {
        this.stop.awaitBudget(length + 1);
        return bodyStart;
      }
      return this.startBody(STREAM, bodyStart, whole ? frameEnd : -1);
    }
    if (action === HOLD) {
      this.holder = chain.actor;
      if (whole) {
        chain.judge(this.holder, code, chunk, p, frameEnd, true);
        return frameEnd;
      }
      if (inChunk) this.output.flush(p);
      if (length === 4) {
        const frame = frameBuffer(code, length);
        chain.judge(this.holder, code, frame, 0, HEADER, false);
        return bodyStart;
      }
      this.startAssembly(true);
      return this.startBody(HOLDING, bodyStart, -1);
    }
    if (inChunk) this.output.flush(p);
    if (action !== DROP) chain.passOn(chain.actor + 1, action, 0, action.length, false);
    return this.startBody(SKIP, bodyStart, -1);
  }

  /** Where the frame's body goes: past it at once when it lies whole in the chunk (`frameEnd` ≥ 0), else read in `state`. */
  private startBody(state: number, bodyStart: number, frameEnd: number): number {
    if (frameEnd >= 0) return frameEnd;
    this.remaining = this.length - 4;
    this.state = this.remaining === 0 ? BETWEEN : state;
    if (state !== STREAM) this.output.restartAt(bodyStart);
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

  /** After a stop: true when the stream may read on (the pending frame settled and passed on, or the blocked assembly begun). */
  private restart(): boolean {
    const left = this.stop.leave();
    if (left === undefined) return false;
    if (left !== ASSEMBLY_TAKEN) {
      this.chain.passOn(left.holder + 1, left.goesOn, 0, left.goesOn.length, false);
      return true;
    }
    this.assembly = frameBuffer(this.code, this.length);
    this.filled = HEADER;
    this.remaining = this.length - 4;
    this.state = STREAM;
    return true;
  }

  private endChunk(): void {
    this.chain.chunkEnd();
  }
}
