import { InvariantError } from '../../../src/idgate-error.js';
import { DROP, HOLD, PASS, PENDING, SEE, type FrameStage, type HeaderAction } from './frame-stage.js';
import type { OutputRuns } from './output-runs.js';
import type { StreamStop } from './stream-stop.js';

/**
 * A direction's ordered stages, as a frame stream asks them: who cares about a frame at its header,
 * who sees it once whole, and where a whole frame goes after the stage that held or replaced it.
 */
export class StageChain {
  private readonly interests: readonly Uint8Array[];
  /** Any stage's interest, per type byte: a frame no stage asked about costs one lookup. */
  readonly anyInterest = new Uint8Array(256);
  private readonly enders: readonly FrameStage[];
  /** The stages that see the current frame once whole, in order. */
  private readonly seers: number[] = [];
  /** How many of `seers` are the current frame's (the stream clears it for a frame no stage asked about). */
  seerCount = 0;
  /** The stage whose header answer `ask` returned. */
  actor = -1;

  constructor(
    private readonly stages: readonly FrameStage[],
    private readonly output: OutputRuns,
    private readonly stop: StreamStop,
  ) {
    this.interests = stages.map((s) => s.interest);
    for (const interest of this.interests) for (let c = 0; c < 256; c++) if (interest[c] !== 0) this.anyInterest[c] = 1;
    this.enders = stages.filter((s) => s.chunkEnd !== undefined);
  }

  /**
   * Asks the stages from `from` on about a frame at its header, noting those that SEE it, up to
   * the first that does more: its answer is returned and its index left in `actor`.
   */
  ask(code: number, length: number, from: number): Exclude<HeaderAction, typeof SEE> {
    this.seerCount = 0;
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

  /** The stages `ask` noted see the frame `bytes[start, end)`, whole. */
  tellSeers(code: number, bytes: Buffer, start: number, end: number): void {
    for (let i = 0; i < this.seerCount; i++) (this.stages[this.seers[i] as number] as FrameStage).see?.(code, bytes, start, end);
    this.seerCount = 0;
  }

  /**
   * A held frame is whole: the stages before its holder that see it are told, the holder judges
   * it, and what it lets on meets the stages after it. `inRun`: the frame lies in the chunk's
   * current run and, kept by every stage, stays in it.
   */
  judge(holder: number, code: number, bytes: Buffer, start: number, end: number, inRun: boolean): void {
    this.tellSeers(code, bytes, start, end);
    const stage = this.stages[holder] as FrameStage;
    const verdict = stage.judge?.(code, bytes, start, end);
    if (verdict === undefined) {
      this.passOn(holder + 1, bytes, start, end, inRun);
      return;
    }
    if (inRun) this.output.leave(start, end);
    if (verdict === PENDING) this.stop.awaitVerdict(Buffer.from(bytes.subarray(start, end)), holder, stage);
    else this.passOn(holder + 1, verdict, 0, verdict.length, false);
  }

  /**
   * Whole frames (`bytes[start, end)`) that went past stage `from - 1` meet the stages from `from`
   * on, then go on. `inRun`: they are one frame of the chunk's current run, which they stay in
   * unless a stage changes them.
   */
  passOn(from: number, bytes: Buffer, start: number, end: number, inRun: boolean): void {
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
        if (!inRun) this.output.add(p === 0 && frameEnd === bytes.length ? bytes : bytes.subarray(p, frameEnd));
      } else {
        if (inRun) this.output.leave(p, frameEnd);
        inRun = false;
        this.act(action, code, bytes, p, frameEnd);
      }
      p = frameEnd;
    }
  }

  /** Every frame read so far has been handed on: the stages that mark a read's end are told. */
  chunkEnd(): void {
    for (const stage of this.enders) stage.chunkEnd?.();
  }

  /** A frame already whole meets a stage that holds, drops or replaces it. */
  private act(action: Exclude<HeaderAction, typeof PASS | typeof SEE>, code: number, bytes: Buffer, start: number, end: number): void {
    const at = this.actor;
    const verdict = action === HOLD ? (this.stages[at] as FrameStage).judge?.(code, bytes, start, end) : action;
    if (verdict === PENDING) throw new InvariantError('a stage answered PENDING for a frame already judged');
    if (verdict === undefined) this.passOn(at + 1, bytes, start, end, false);
    else if (verdict !== DROP) this.passOn(at + 1, verdict, 0, verdict.length, false);
  }
}
