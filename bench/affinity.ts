/**
 * Pinning the bench to one CPU at a time (taskset). On this VM one virtual
 * CPU can run a third slower than the other for minutes (a neighbour on its
 * host core), so a rate measured on whichever CPU the scheduler picked is not
 * the machine's: a yardstick measured on one CPU and a candidate on the other
 * skewed ratios by as much (the C reference read 2.2 M against 3.1 M for the
 * same loop). Threads and child processes started while pinned inherit it.
 */
import { execFileSync } from 'node:child_process';

/** The CPUs this process may run on, as taskset lists them ("0,1" or "0-3"), or null without taskset. */
function allowedList(): string | null {
  try {
    return execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' })
      .split(': ')[1]!
      .trim();
  } catch {
    return null;
  }
}

function cpusIn(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
  });
}

/** Pins every thread of this process to `cpus`. taskset fails when a thread it lists ends before it gets to it (a worker thread just done): then again. */
function pin(cpus: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'pipe' });
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

/** The CPUs `onCpu` can pin to; empty without taskset. */
export function pinnableCpus(): number[] {
  const list = allowedList();
  return list ? cpusIn(list) : [];
}

/** Runs `fn` with this process pinned to `cpu` (unpinned when `cpu` is undefined), then restores what was allowed. */
export async function onCpu<T>(cpu: number | undefined, fn: () => T | Promise<T>): Promise<T> {
  const allowed = cpu === undefined ? null : allowedList();
  if (allowed === null) return fn();
  pin(String(cpu));
  try {
    return await fn();
  } finally {
    pin(allowed);
  }
}
