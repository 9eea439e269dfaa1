import fc from 'fast-check';
import { spawn } from 'node:child_process';
import {
  descendantPids,
  parseProcStat,
  processTreeCpu,
  treeTicks,
  type ProcStat,
} from '../../scripts/bench/process-cpu';

/** A /proc/<pid>/stat line as Linux writes it (52 fields), with the given values in their places. */
function statLine(stat: ProcStat, command = 'node'): string {
  const fields = Array.from({ length: 50 }, () => '0');
  fields[0] = 'S';
  fields[1] = String(stat.ppid);
  fields[11] = String(stat.utime);
  fields[12] = String(stat.stime);
  fields[13] = String(stat.cutime);
  fields[14] = String(stat.cstime);
  return `${stat.pid} (${command}) ${fields.join(' ')}\n`;
}

const tick = fc.integer({ min: 0, max: 2 ** 40 });
const procStat = fc.record({
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  ppid: fc.integer({ min: 0, max: 4_194_304 }),
  utime: tick,
  stime: tick,
  cutime: tick,
  cstime: tick,
});

describe('parseProcStat', () => {
  it('reads pid, ppid and the four CPU times, whatever the command name holds', () => {
    fc.assert(
      fc.property(procStat, fc.string({ maxLength: 15 }), (stat, command) => {
        expect(parseProcStat(statLine(stat, command))).toEqual(stat);
      }),
    );
  });

  it('reads a real line of this process', () => {
    const parsed = parseProcStat(
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('node:fs') as typeof import('node:fs')).readFileSync('/proc/self/stat', 'utf8'),
    );
    expect(parsed).toMatchObject({ pid: expect.any(Number) as unknown, ppid: process.ppid });
  });

  it('returns undefined for anything that is not a stat line, and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const parsed = parseProcStat(text);
        if (parsed !== undefined) {
          for (const value of Object.values(parsed)) expect(Number.isSafeInteger(value)).toBe(true);
        }
      }),
    );
    for (const text of ['', '12', '12 (node)', '12 (node) S 1 2', 'x (node) S 1 0 0 0 0 0 0 0 0 0 1 2 3 4']) {
      expect(parseProcStat(text)).toBeUndefined();
    }
  });

  it('refuses a line cut before its last CPU time, or a non-number where a CPU time is', () => {
    fc.assert(
      fc.property(procStat, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (stat, where) => {
        const line = statLine(stat);
        const fieldsStart = line.indexOf(') ') + 2;
        // The 15th field after ') ' is cstime: cut anywhere before it (a cut inside a number leaves a number).
        const cstimeStart = fieldsStart + line.slice(fieldsStart).split(' ').slice(0, 14).join(' ').length;
        const cut = fieldsStart + Math.floor(where * (cstimeStart - fieldsStart));
        expect(parseProcStat(line.slice(0, cut))).toBeUndefined();
        expect(parseProcStat(line.replace(/^(\d+ \(node\) S \d+(?: \d+){9}) \d+/, '$1 -1'))).toBeUndefined();
      }),
    );
  });
});

describe('treeTicks', () => {
  it('adds the root (with its waited-for children) and every live descendant, and nothing else', () => {
    const stats: ProcStat[] = [
      { pid: 10, ppid: 1, utime: 5, stime: 1, cutime: 7, cstime: 2 },
      { pid: 11, ppid: 10, utime: 3, stime: 1, cutime: 0, cstime: 0 },
      { pid: 12, ppid: 11, utime: 2, stime: 0, cutime: 0, cstime: 0 },
      { pid: 20, ppid: 1, utime: 100, stime: 100, cutime: 0, cstime: 0 },
    ];
    expect(treeTicks(10, stats)).toBe(15 + 4 + 2);
    expect(treeTicks(11, stats)).toBe(6);
    expect(treeTicks(99, stats)).toBeNaN();
  });

  it('terminates on a parent cycle (pid reuse while /proc is read)', () => {
    const stats: ProcStat[] = [
      { pid: 1, ppid: 2, utime: 1, stime: 0, cutime: 0, cstime: 0 },
      { pid: 2, ppid: 1, utime: 1, stime: 0, cutime: 0, cstime: 0 },
    ];
    expect(treeTicks(1, stats)).toBe(2);
  });
});

describe('processTreeCpu on a real process tree', () => {
  it('finds a child process and charges the tree at least the root', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      expect(descendantPids(process.pid)).toContain(child.pid);
      const cpu = processTreeCpu(process.pid);
      expect(cpu.treeMs).toBeGreaterThanOrEqual(cpu.rootMs);
      expect(cpu.rootMs).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
