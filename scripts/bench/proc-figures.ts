// Figures the kernel keeps: CPU time and memory of a process (/proc/<pid>/stat and status), and the machine.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { round } from './statistics.ts';

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/** A `Vm…:` line of /proc/<pid>/status, in KiB. */
function statusKiB(status: string, name: string): number {
  return Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
}

const statusOf = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');

/** Resident memory now and at its peak (VmHWM), in MiB to one decimal. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = statusOf(pid);
  return {
    rss: round(statusKiB(status, 'VmRSS') / 1024, 1),
    peak: round(statusKiB(status, 'VmHWM') / 1024, 1),
  };
}

export function rssKiB(pid: number): number {
  return statusKiB(statusOf(pid), 'VmRSS');
}

/** CPU model, cores and memory: the figures mean little without the machine they ran on. */
export function machineDescription(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const memGiB = Math.round(
    Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1048576,
  );
  return `${cpus().length} × ${model}, ${memGiB} GiB`;
}
