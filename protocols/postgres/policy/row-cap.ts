import { Backend } from '../wire/codes.js';
import { encodeNoticeResponse } from '../wire/backend-messages.js';
import { DROP, PASS, type FrameStage, type HeaderAction } from '../wire/frame-stage.js';

/** The end of one statement's result: the row count starts again after it. */
const RESULT_ENDS = new Set<number>([
  Backend.CommandComplete,
  Backend.ErrorResponse,
  Backend.EmptyQueryResponse,
  Backend.ReadyForQuery,
  Backend.CopyDone,
]);

/**
 * `max-rows`: the server's result rows (DataRow, and CopyData of a COPY TO STDOUT) past the cap
 * never reach the client. The first row over is replaced by a NoticeResponse (01000) naming the
 * cap, the rest are dropped unread, and the statement's own CommandComplete passes unchanged, so
 * its tag still says how many rows the server produced. Nothing else is touched, so the protocol
 * stays in step (the server finishes the statement; statement-timeout bounds how long it runs).
 * A cursor fetched in pages (FETCH, an Execute with a row limit followed by more) counts each
 * portal execution up to its completion as one result. A stage of the server's frame stream.
 */
export class RowCap implements FrameStage {
  readonly interest = new Uint8Array(256);
  private rows = 0;

  constructor(
    private readonly maxRows: number,
    /** Told once per result that went over the cap. */
    private readonly capped: () => void,
  ) {
    for (const code of [Backend.DataRow, Backend.CopyData, ...RESULT_ENDS]) this.interest[code] = 1;
  }

  /** A row past the cap is dropped unread; the first of them is replaced by the notice. */
  header(code: number): HeaderAction {
    if (code !== Backend.DataRow && code !== Backend.CopyData) {
      this.rows = 0;
      return PASS;
    }
    this.rows += 1;
    if (this.rows <= this.maxRows) return PASS;
    return this.rows === this.maxRows + 1 ? this.notice() : DROP;
  }

  private notice(): Buffer {
    this.capped();
    return encodeNoticeResponse({
      severity: 'WARNING',
      sqlstate: '01000',
      message: `result truncated to ${this.maxRows} rows by the gateway (limits max-rows)`,
      detail: 'The rows past the cap were not delivered; the command tag still counts every row the statement produced.',
    });
  }
}
