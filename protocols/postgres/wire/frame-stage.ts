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
