/** What the relay lets a session observer see and how it lets the observer slow the client down. */
export interface RelayObserver {
  /** Interest tables (see FrameScanner) for each direction. */
  readonly clientInterest: Uint8Array;
  readonly upstreamInterest: Uint8Array;
  onClientFrame(code: number, frame: Buffer | undefined, length: number): void;
  onUpstreamFrame(code: number, frame: Buffer | undefined, length: number): void;
  /** After each chunk: the frames seen since the last call arrived together. */
  onClientChunk(): void;
  onUpstreamChunk(): void;
  /** True while the observer cannot keep up: the relay stops reading the client. */
  readonly congested: boolean;
  whenDrained(callback: () => void): void;
}
