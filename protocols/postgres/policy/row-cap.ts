import { Backend } from '../wire/codes.js';
import { encodeNoticeResponse } from '../wire/backend-messages.js';
import { FrameRewriter, type OutgoingFrames } from '../wire/frame-rewriter.js';

/** The end of one statement's result: the row count starts again after it. */
const RESULT_ENDS = new Set<number>([
  Backend.CommandComplete,
  Backend.ErrorResponse,
  Backend.EmptyQueryResponse,
  Backend.ReadyForQuery,
  Backend.CopyDone,
]);
const EMPTY = Buffer.alloc(0);

/**
 * `max-rows`: the server's result rows (DataRow, and CopyData of a COPY TO STDOUT) past the cap
 * never reach the client. The first row over is replaced by a NoticeResponse (01000) naming the
 * cap, the rest are dropped unread, and the statement's own CommandComplete passes unchanged, so
 * its tag still says how many rows the server produced. Nothing else is touched, so the protocol
 * stays in step (the server finishes the statement; statement-timeout bounds how long it runs).
 * A cursor fetched in pages (FETCH, an Execute with a row limit followed by more) counts each
 * portal execution up to its completion as one result.
 */
export class RowCap {
  private rows = 0;
  private readonly rewriter: FrameRewriter;

  constructor(
    private readonly maxRows: number,
    /** Told once per result that went over the cap. */
    private readonly capped: () => void,
  ) {
    // Every frame of interest counts as "oversize" (a limit of 0): it is replaced without its body being read or held.
    this.rewriter = new FrameRewriter(
      (code) => this.overCap(code),
      () => undefined,
      0,
      {
        observe: (code) => this.observe(code),
        oversize: () => this.replacement(),
      },
    );
  }

  /** The bytes to forward for a chunk from the server (views of it where nothing was dropped). */
  process(chunk: Buffer): Buffer[] {
    return this.rewriter.process(chunk);
  }

  /** Only as far as what goes to the client reaches a message boundary (the session is ending). */
  processUntilBoundary(chunk: Buffer): Buffer[] {
    return this.rewriter.processUntilBoundary(chunk);
  }

  /** Who reads what reaches the client (ReadyForQuery, the recorder): the cap, the last to frame it, tells them. */
  readOutgoing(outgoing: OutgoingFrames): void {
    this.rewriter.setOutgoing(outgoing);
  }

  /** What went to the client ends at a message boundary. */
  get outputAtBoundary(): boolean {
    return this.rewriter.outputAtBoundary;
  }

  private observe(code: number): void {
    if (code === Backend.DataRow || code === Backend.CopyData) this.rows += 1;
    else if (RESULT_ENDS.has(code)) this.rows = 0;
  }

  private overCap(code: number): boolean {
    return (code === Backend.DataRow || code === Backend.CopyData) && this.rows > this.maxRows;
  }

  private replacement(): Buffer {
    if (this.rows !== this.maxRows + 1) return EMPTY;
    this.capped();
    return encodeNoticeResponse({
      severity: 'WARNING',
      sqlstate: '01000',
      message: `result truncated to ${this.maxRows} rows by the gateway (limits max-rows)`,
      detail: 'The rows past the cap were not delivered; the command tag still counts every row the statement produced.',
    });
  }
}
