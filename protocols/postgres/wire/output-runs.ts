const NOTHING: readonly Buffer[] = [];

/**
 * What a frame stream lets on for one read: runs of the chunk being read, as views where nothing
 * changed (the chunk itself when nothing did), and whole frames put in where a stage made them.
 */
export class OutputRuns {
  /** The chunk being read and where its current run of unchanged bytes began. */
  private chunk: Buffer = Buffer.alloc(0);
  private run = 0;
  private readonly out: Buffer[] = [];

  /** A new chunk: its run begins at its start. */
  begin(chunk: Buffer): void {
    this.chunk = chunk;
    this.run = 0;
  }

  /** Sends the current run up to `end` on unchanged, and begins the next run there. */
  flush(end: number): void {
    const { chunk, run } = this;
    if (end > run) this.out.push(run === 0 && end === chunk.length ? chunk : chunk.subarray(run, end));
    this.run = end;
  }

  /** The run's bytes at `[start, end)` do not go on as they are: the run before them goes, the next begins after them. */
  leave(start: number, end: number): void {
    this.flush(start);
    this.run = end;
  }

  /** The next run begins at `at` (the bytes before it were not to go on, or already went). */
  restartAt(at: number): void {
    this.run = at;
  }

  /** Bytes that are not part of the chunk's run go on here, in order. */
  add(piece: Buffer): void {
    this.out.push(piece);
  }

  /** A read failed: nothing of it goes on. */
  discard(): void {
    this.out.length = 0;
  }

  /** What goes on, taken: one buffer, or the pieces in order (an empty list for nothing). */
  take(): Buffer | readonly Buffer[] {
    const out = this.out;
    if (out.length === 1) {
      const only = out[0] as Buffer;
      out.length = 0;
      return only;
    }
    return out.length === 0 ? NOTHING : out.splice(0);
  }
}

export { NOTHING };
