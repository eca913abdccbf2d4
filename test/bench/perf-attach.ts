/**
 * `perf` attached to a proxy while pgbench runs against it.
 *
 * IDGATE_BENCH_SYSCALLS=1: counts a proxy's system calls and context switches while pgbench runs
 * against it (`perf stat` on its kernel tracepoints: cheap, unlike strace, which slows a relay
 * tenfold), so two ways of relaying can be compared per transaction — how many `epoll_pwait`
 * returns, socket reads and writes, journal appends each costs.
 *
 * IDGATE_BENCH_PERF_RECORD=<dir>: samples the proxy's stacks (`perf record -g`) into
 * `<dir>/<target>-<mode>-<round>.data`; with IDGATE_BENCH_NODE_ARGS=--perf-basic-prof the gateway's
 * JavaScript functions are named too (`perf report -i …`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EVENTS = [
  'syscalls:sys_enter_epoll_pwait',
  'syscalls:sys_enter_read',
  'syscalls:sys_enter_write',
  'syscalls:sys_enter_writev',
  'syscalls:sys_enter_futex',
  'context-switches',
];

export interface SyscallCount {
  /** Stops counting and returns each event's count. */
  stop(): Promise<Map<string, number>>;
}

/** Starts counting for `pid` (all its threads), or returns undefined when IDGATE_BENCH_SYSCALLS is not set. */
export function countSyscalls(pid: number | undefined): SyscallCount | undefined {
  if (process.env['IDGATE_BENCH_SYSCALLS'] === undefined || !pid) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'idgate-perf-stat-'));
  const out = join(dir, 'stat.csv');
  const perf: ChildProcess = spawn('perf', ['stat', '-x', ',', '-o', out, '-e', EVENTS.join(','), '-p', String(pid)], {
    stdio: 'ignore',
  });
  return {
    stop: async () => {
      const exited = new Promise<void>((resolve) => perf.once('exit', () => resolve()));
      perf.kill('SIGINT');
      await exited;
      const counts = new Map<string, number>();
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        const [value, , event] = line.split(',');
        if (event !== undefined && EVENTS.includes(event)) counts.set(event.replace('syscalls:sys_enter_', ''), Number(value));
      }
      rmSync(dir, { recursive: true, force: true });
      return counts;
    },
  };
}

/** Starts sampling `pid` into `file` when IDGATE_BENCH_PERF_RECORD names a directory; returns how to stop it. */
export function recordProfile(pid: number | undefined, name: string): (() => Promise<void>) | undefined {
  const dir = process.env['IDGATE_BENCH_PERF_RECORD'];
  if (dir === undefined || !pid) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name.replace(/[^a-z0-9+.-]+/gi, '_')}.data`);
  const perf = spawn('perf', ['record', '-g', '-F', '999', '-o', file, '-p', String(pid)], { stdio: 'ignore' });
  // Listened for now: a perf that cannot start exits at once, and the run must not wait for it later.
  const exited = new Promise<void>((resolve) => {
    perf.once('exit', () => resolve());
    perf.once('error', () => resolve());
  });
  return async () => {
    if (perf.exitCode === null && perf.signalCode === null) perf.kill('SIGINT');
    await exited;
  };
}

/** `epoll_pwait 1.52, read 2.01, …` per transaction. */
export function perTransaction(counts: Map<string, number>, transactions: number): string {
  return [...counts].map(([event, n]) => `${event} ${(n / transactions).toFixed(2)}`).join(', ');
}
