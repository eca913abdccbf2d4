/**
 * IDGATE_BENCH_BOX_SPLIT=1: where the whole machine's CPU goes during each pgbench run, per
 * transaction — the proxy, the PostgreSQL backends, pgbench, kernel threads (writeback, the file
 * system's journal), time the hypervisor took (steal), and how much of it all was interrupts. A
 * way of relaying can cost other processes CPU (the order and timing of its writes wakes them
 * differently); this says how much.
 *
 * Processes that exit during the run (pgbench, the backends of its connections) are counted
 * through their parents' reaped-children times (`cutime`, `cstime`): pgbench's parent is this
 * process, the backends' the postmaster.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_US = 10_000;
type Group = 'proxy' | 'postgres' | 'pgbench' | 'kernel threads' | 'other';
const GROUPS: readonly Group[] = ['proxy', 'postgres', 'pgbench', 'kernel threads', 'other'];

export type BoxSnapshot = ReadonlyMap<string, number>;

/** CPU so far per group, and the machine's interrupt and steal time, in microseconds; undefined unless asked for. */
export function boxSnapshot(proxyPids: readonly number[]): BoxSnapshot | undefined {
  if (process.env['IDGATE_BENCH_BOX_SPLIT'] === undefined) return undefined;
  const totals = new Map<string, number>(GROUPS.map((g) => [g, 0]));
  const add = (group: string, us: number): void => {
    totals.set(group, (totals.get(group) ?? 0) + us);
  };
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat === undefined) continue;
    const group = groupOf(stat, proxyPids);
    add(group, stat.own);
    // Children reaped by a postmaster are its backends; by this process, pgbench.
    if (stat.comm === 'postgres' && stat.ppid !== 0) add('postgres', stat.reaped);
    if (stat.pid === process.pid) add('pgbench', stat.reaped);
  }
  const stat = readFileSync('/proc/stat', 'utf8').split('\n');
  const fields = stat[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  // This kernel charges interrupts to the process they interrupt: a part of the groups' time, not beside it.
  add('of which interrupts', ((fields[5] ?? 0) + (fields[6] ?? 0)) * TICK_US);
  add('steal', (fields[7] ?? 0) * TICK_US);
  // Not µs: the machine's task switches (the line reads them per transaction like the rest).
  add('context switches', Number(stat.find((line) => line.startsWith('ctxt '))?.slice(5) ?? 0));
  // Interrupts between the CPUs (a wake-up on the other core, a TLB shootdown): in a VM each is an exit on both sides.
  for (const [name, count] of crossCpuInterrupts()) add(name, count);
  return totals;
}

/** The split between two snapshots, per transaction, as one line. */
export function describeBoxSplit(before: BoxSnapshot, after: BoxSnapshot, transactions: number): string {
  const parts = [...after].map(([group, us]) => `${group} ${((us - (before.get(group) ?? 0)) / transactions).toFixed(1)}`);
  return `box split, µs/tx: ${parts.join(', ')}`;
}

interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly own: number;
  readonly reaped: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited since the directory was listed
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  const n = (i: number): number => Number(f[i] ?? 0);
  // Fields after the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
  return { pid, comm, ppid: n(1), own: (n(11) + n(12)) * TICK_US, reaped: (n(13) + n(14)) * TICK_US };
}

function groupOf(stat: ProcStat, proxyPids: readonly number[]): Group {
  if (proxyPids.includes(stat.pid)) return 'proxy';
  if (stat.comm === 'postgres') return 'postgres';
  if (stat.comm === 'pgbench') return 'pgbench';
  if (stat.pid === 2 || stat.ppid === 2) return 'kernel threads';
  return 'other';
}

/** Rescheduling, function-call and TLB-shootdown interrupts so far, summed over the CPUs (/proc/interrupts). */
function crossCpuInterrupts(): [string, number][] {
  const lines = readFileSync('/proc/interrupts', 'utf8').split('\n');
  return (['RES', 'CAL', 'TLB'] as const).map((name) => {
    const fields =
      lines
        .find((line) => line.trimStart().startsWith(`${name}:`))
        ?.trim()
        .split(/\s+/)
        .slice(1) ?? [];
    let sum = 0;
    for (const f of fields) {
      if (!/^\d+$/.test(f)) break;
      sum += Number(f);
    }
    return [`${name} interrupts`, sum];
  });
}
