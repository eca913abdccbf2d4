/** What the relay lets a session observer see and how it lets the observer slow the client down. */
export interface RelayObserver {
  /** Interest tables (see FrameScanner) for each direction. */
  readonly clientInterest: Uint8Array;
  readonly upstreamInterest: Uint8Array;
  /** A frame of interest: see FrameHandler (`bytes[start, end)`, valid only during the call). */
  onClientFrame(code: number, length: number, bytes: Buffer | undefined, start: number, end: number): void;
  onUpstreamFrame(code: number, length: number, bytes: Buffer | undefined, start: number, end: number): void;
  /** After each chunk: the frames seen since the last call arrived together. */
  onClientChunk(): void;
  onUpstreamChunk(): void;
  /** True while the observer cannot keep up: the relay stops reading the client. */
  readonly congested: boolean;
  whenDrained(callback: () => void): void;
  /** Write-ahead: the relay forwards a client chunk only once `afterDurable` calls back for it. */
  readonly writeAhead: boolean;
  /** Calls back once everything observed so far is durable (callbacks come in the order asked). */
  afterDurable(callback: () => void): void;
}
