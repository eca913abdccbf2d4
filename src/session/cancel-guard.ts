/**
 * Bounds how fast anyone who reaches the port can guess cancel keys. A key is the upstream's
 * process id (which `pg_stat_activity` shows every role) and a 32-bit random secret, so each wrong
 * guess has odds of 1 in 2^32; this keeps a source to `perMinute` wrong keys a minute — at the
 * default 30, about 43,000 guesses a day, odds of 1 in 100,000 a day against one live session —
 * where it could otherwise try thousands a second. Requests past the limit are dropped unread
 * (not looked up, not passed to peers). Each minute a source was wrong, one summary says how often
 * and how many were dropped, for the audit log.
 */
export const DEFAULT_CANCEL_GUESSES_PER_MINUTE = 30;
const WINDOW_MS = 60_000;
/** Sources tracked at once: past this, the oldest window is summarised early (memory is bounded for any number of sources). */
const MAX_SOURCES = 10_000;

export interface CancelGuessSummary {
  readonly source: string;
  readonly wrong: number;
  readonly dropped: number;
  readonly sinceMs: number;
}

interface Window {
  readonly startMs: number;
  wrong: number;
  dropped: number;
}

export class CancelGuard {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onSummary: (summary: CancelGuessSummary) => void,
    private readonly perMinute = DEFAULT_CANCEL_GUESSES_PER_MINUTE,
    private readonly now: () => number = Date.now,
  ) {}

  /** May a CancelRequest from `source` be looked up now? False: it is dropped (and counted as such). */
  admit(source: string): boolean {
    const w = this.window(sourceKey(source));
    if (w.wrong < this.perMinute) return true;
    w.dropped += 1;
    return false;
  }

  /** A CancelRequest from `source` named a key no session here (or at a sibling) holds. */
  wrongKey(source: string): void {
    this.window(sourceKey(source)).wrong += 1;
  }

  /** Summarises every window and stops the timer (the gateway is stopping). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const source of [...this.windows.keys()]) this.summarise(source);
  }

  private window(source: string): Window {
    const nowMs = this.now();
    let w = this.windows.get(source);
    if (w !== undefined && nowMs - w.startMs >= WINDOW_MS) {
      this.summarise(source);
      w = undefined;
    }
    if (w === undefined) {
      if (this.windows.size >= MAX_SOURCES) this.summarise(this.windows.keys().next().value ?? source);
      w = { startMs: nowMs, wrong: 0, dropped: 0 };
      this.windows.set(source, w);
      this.timer ??= setInterval(() => this.sweep(), WINDOW_MS).unref();
    }
    return w;
  }

  private sweep(): void {
    const nowMs = this.now();
    for (const [source, w] of [...this.windows]) if (nowMs - w.startMs >= WINDOW_MS) this.summarise(source);
    if (this.windows.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private summarise(source: string): void {
    const w = this.windows.get(source);
    this.windows.delete(source);
    if (w === undefined || w.wrong + w.dropped === 0) return;
    this.onSummary({ source, wrong: w.wrong, dropped: w.dropped, sinceMs: w.startMs });
  }
}

/**
 * Whose budget an address spends: an IPv4 address (mapped into IPv6 or not) its own, an IPv6
 * address its /64 — one host is commonly given a whole /64, and would otherwise have 2^64 budgets.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
