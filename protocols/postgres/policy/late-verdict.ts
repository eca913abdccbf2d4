import { PENDING } from '../wire/frame-stage.js';

/**
 * A held frame whose verdict comes later — a statement judged on the analysis thread, an approval
 * looked up in the gateway's other workers, a statement held for its approver. The client's stream
 * waits behind it (the frame stream's PENDING), so at most one is under way per session. What the
 * verdict does to the session (the reply tracker, the denial's record) happens when it comes,
 * before the stream goes on: no later frame of the client was judged in between.
 */
export class LateVerdict {
  private ready = false;
  private replacement: Buffer | undefined;
  private settle: ((replacement: Buffer | undefined) => void) | undefined;

  /** Holds the frame until `verdict` comes (which must not reject): what the stage answers. */
  await(verdict: Promise<Buffer | undefined>): typeof PENDING {
    this.ready = false;
    void verdict.then((replacement) => {
      const settle = this.settle;
      this.settle = undefined;
      if (settle !== undefined) settle(replacement);
      else {
        this.replacement = replacement;
        this.ready = true;
      }
    });
    return PENDING;
  }

  /** The stream asks for the verdict it was told would come: now, or once it does. */
  whenSettled(callback: (replacement: Buffer | undefined) => void): void {
    if (!this.ready) {
      this.settle = callback;
      return;
    }
    const replacement = this.replacement;
    this.ready = false;
    this.replacement = undefined;
    callback(replacement);
  }
}
