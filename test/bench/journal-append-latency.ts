/**
 * How long one write-ahead journal append (sync: normal, a `writev` into the page cache, as the
 * relay thread makes it) can take: ~10,000 appends a second of 600 bytes, in groups of ten per
 * timer turn, the file emptied at 16 MiB as the journal is. IDGATE_BENCH_PRESSURE=writeback runs
 * `dd` writing 6,000 MB beside it (the kernel writing back and throttling writers),
 * IDGATE_BENCH_PRESSURE=dsync runs `dd oflag=dsync` for the same time (a disk busy with syncs).
 * Prints the latency quantiles and how many appends passed the journal's slow-append threshold.
 * Not part of `npm run bench` (it writes gigabytes): run it with node --import tsx.
 */
import { spawn } from 'node:child_process';
import { constants, ftruncateSync, mkdtempSync, openSync, rmSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SLOW_APPEND_MS } from '../../src/audit/write-ahead-journal.js';

const SECONDS = Number(process.env['IDGATE_BENCH_SECONDS'] ?? 20);
const PRESSURE = process.env['IDGATE_BENCH_PRESSURE'];
const LIMIT = 16 << 20;

function pressure(dir: string): Promise<void> {
  if (PRESSURE === undefined) return Promise.resolve();
  const args =
    PRESSURE === 'dsync'
      ? [`of=${join(dir, 'dsync')}`, 'bs=64k', 'count=100000', 'oflag=dsync']
      : [`of=${join(dir, 'writeback')}`, 'bs=1M', 'count=6000'];
  const dd = spawn('dd', ['if=/dev/zero', ...args], { stdio: 'ignore' });
  const stop = setTimeout(() => dd.kill(), (SECONDS + 5) * 1000);
  return new Promise((resolve) =>
    dd.once('exit', () => {
      clearTimeout(stop);
      resolve();
    }),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'idgate-append-'));
  try {
    const fd = openSync(join(dir, 'journal'), constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND, 0o600);
    const record = Buffer.alloc(600, 7);
    const pressed = pressure(dir);
    const latencies: number[] = [];
    let size = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      for (let k = 0; k < 10; k++) {
        const started = performance.now();
        writevSync(fd, [record]);
        latencies.push(performance.now() - started);
        size += record.length;
        if (size > LIMIT) {
          ftruncateSync(fd, 0);
          size = 0;
        }
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await pressed;
    latencies.sort((a, b) => a - b);
    const q = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(3);
    const slow = latencies.filter((l) => l > SLOW_APPEND_MS).length;
    process.stdout.write(
      `journal appends (${PRESSURE ?? 'no'} pressure): ${latencies.length}, p50 ${q(0.5)} ms, p99 ${q(0.99)}, p99.9 ${q(0.999)}, ` +
        `p99.99 ${q(0.9999)}, max ${(latencies.at(-1) ?? 0).toFixed(3)} ms; over ${SLOW_APPEND_MS} ms (sent to the thread pool): ${slow}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
