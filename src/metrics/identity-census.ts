import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, IdgateError } from '../idgate-error.js';
import type { Logger } from '../logging/logger.js';

/** The flags `idgate identities` sets, counted. */
export const CENSUS_FLAGS = ['unused', 'shared', 'disabled', 'over-scoped'] as const;
export type CensusFlag = (typeof CENSUS_FLAGS)[number];

export interface CensusCounts {
  readonly listed: number;
  readonly flagged: Readonly<Record<CensusFlag, number>>;
  /** When this census was taken (ms since the epoch). */
  readonly at: number;
}

export interface CensusSource {
  /** The configuration file the gateway was started with (the census reads it as the CLI does). */
  readonly configFile: string;
  /** `--db` for the census: the central store's URL in a fleet, else the local database. */
  readonly db: string;
  /** Extra environment for the census process (the central store's password). */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The identity-hygiene counts behind `idgate_identities`: on a schedule, the gateway runs its own
 * `idgate identities --json` in a child process — the very code a security reviewer runs, so the
 * numbers cannot disagree with the report, and its Graph listing and audit reads (synchronous
 * SQLite) stay off the relay thread. A census that fails (Graph unavailable) leaves the last
 * complete one in place and is counted as a failure; a partial one is never published.
 */
export class IdentityCensus {
  private latest: CensusCounts | undefined;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly source: CensusSource,
    private readonly everyMs: number,
    private readonly logger: Logger,
  ) {}

  get counts(): CensusCounts | undefined {
    return this.latest;
  }

  get failureCount(): number {
    return this.failures;
  }

  start(): void {
    void this.run();
    this.timer ??= setInterval(() => void this.run(), this.everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Takes one census now (one at a time). */
  run(): Promise<void> {
    this.running ??= this.take().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async take(): Promise<void> {
    try {
      this.latest = countFlags(await runCensus(this.source), Date.now());
    } catch (e) {
      this.failures += 1;
      this.logger.warn({ err: errorMessage(e) }, 'identity census failed; the last complete one stays');
    }
  }
}

export function countFlags(jsonLines: string, at: number): CensusCounts {
  const flagged: Record<CensusFlag, number> = { unused: 0, shared: 0, disabled: 0, 'over-scoped': 0 };
  let listed = 0;
  for (const line of jsonLines.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { flags?: unknown };
    listed += 1;
    for (const flag of Array.isArray(row.flags) ? (row.flags as unknown[]) : []) if (isCensusFlag(flag)) flagged[flag] += 1;
  }
  return { listed, flagged, at };
}

function runCensus(source: CensusSource): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [idgateBin(), 'identities', '--json', '--config', source.configFile, '--db', source.db], {
      env: { ...process.env, ...source.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new CensusError(err.trim().split('\n').at(-1) ?? `exit ${String(code)}`)),
    );
  });
}

let bin: string | undefined;

/** bin/idgate of this installation, found once from this module whether it runs compiled (dist/) or from source. */
function idgateBin(): string {
  bin ??= findBin();
  return bin;
}

function findBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'bin', 'idgate');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return 'idgate';
}

/** The census process failed (Graph unavailable, an unreadable audit log): its last line says why. */
export class CensusError extends IdgateError {
  override readonly name = 'CensusError';
  override readonly code = 'census-failed';
}

function isCensusFlag(flag: unknown): flag is CensusFlag {
  return typeof flag === 'string' && (CENSUS_FLAGS as readonly string[]).includes(flag);
}
