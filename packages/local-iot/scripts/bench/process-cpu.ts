// CPU time of a server and every process it started, read from /proc: what `npm run bench` charges a server
// for a batch of connects (the gateway plus its Lambda execution environments; mosquitto is one process).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat the benchmark reads; CPU times in clock ticks. */
export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** User and system time of the process itself (all its threads). */
  readonly utime: number;
  readonly stime: number;
  /** User and system time of its children that have ended and been waited for. */
  readonly cutime: number;
  readonly cstime: number;
}

/**
 * Parses one /proc/<pid>/stat line, or returns undefined when it is not one (truncated, garbled). The command
 * name is in parentheses and may hold spaces or parentheses itself, so the fields are counted after the last ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open) return undefined;
  const pid = wholeNumber(text.slice(0, open));
  // After ') ': state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt, utime,
  // stime, cutime, cstime (proc(5): fields 3 to 17).
  const fields = text.slice(close + 2).split(' ');
  if (fields.length < 15 || !/^[A-Za-z]$/.test(fields[0] ?? '')) return undefined;
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((index) => wholeNumber(fields[index]));
  if (
    pid === undefined ||
    ppid === undefined ||
    utime === undefined ||
    stime === undefined ||
    cutime === undefined ||
    cstime === undefined
  ) {
    return undefined;
  }
  return { pid, ppid, utime, stime, cutime, cstime };
}

function wholeNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/**
 * CPU ticks charged to the tree under `root`: the root's own time and its waited-for children's, plus every
 * live descendant's. A descendant that ends between two readings moves from the second term to its parent's
 * `cutime`/`cstime`, so the difference of two readings counts it once.
 */
export function treeTicks(root: number, stats: readonly ProcStat[]): number {
  const children = new Map<number, ProcStat[]>();
  let rootStat: ProcStat | undefined;
  for (const stat of stats) {
    if (stat.pid === root) rootStat = stat;
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else children.set(stat.ppid, [stat]);
  }
  if (rootStat === undefined) return Number.NaN;
  let total = 0;
  const pending = [rootStat];
  const seen = new Set<number>();
  for (let stat = pending.pop(); stat !== undefined; stat = pending.pop()) {
    if (seen.has(stat.pid)) continue;
    seen.add(stat.pid);
    total += stat.utime + stat.stime + stat.cutime + stat.cstime;
    pending.push(...(children.get(stat.pid) ?? []));
  }
  return total;
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Every process's stat; processes that end while the directory is read are skipped. */
export function readAllProcStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const stat = parseProcStat(text);
    if (stat) stats.push(stat);
  }
  return stats;
}

/** User + system CPU in ms of `root` and everything it started (see `treeTicks`); NaN when `root` is gone. */
export function processTreeCpuMs(root: number): number {
  return (treeTicks(root, readAllProcStats()) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** CPU in ms of the tree under `root` (see `treeTicks`) and of `root` itself (its own threads only). */
export interface TreeCpu {
  readonly treeMs: number;
  readonly rootMs: number;
}

export function processTreeCpu(root: number): TreeCpu {
  const stats = readAllProcStats();
  const own = stats.find((stat) => stat.pid === root);
  const toMs = (ticks: number): number => (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  return {
    treeMs: toMs(treeTicks(root, stats)),
    rootMs: own === undefined ? Number.NaN : toMs(own.utime + own.stime),
  };
}

/** The pids of `root`'s live descendants (the Lambda execution environments under a gateway). */
export function descendantPids(root: number): number[] {
  const stats = readAllProcStats();
  const found: number[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    for (const stat of stats) {
      if (stat.ppid === pid && !found.includes(stat.pid)) {
        found.push(stat.pid);
        pending.push(stat.pid);
      }
    }
  }
  return found;
}

/**
 * Reads the tree's CPU once it has stopped rising (two readings `intervalMs` apart agree, at most `maxWaitMs`):
 * a server still closing the batch's last connections is charged for them. A benchmark, so waiting is fine.
 */
export async function settledTreeCpu(root: number, intervalMs = 60, maxWaitMs = 3000): Promise<TreeCpu> {
  let previous = processTreeCpu(root);
  for (let waited = 0; waited < maxWaitMs; waited += intervalMs) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const current = processTreeCpu(root);
    if (current.treeMs === previous.treeMs) return current;
    previous = current;
  }
  return previous;
}
