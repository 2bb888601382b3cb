import { readFileSync } from 'node:fs';

/** /proc/<pid>/stat field 22 (start time in clock ticks), or null when gone or a zombie. */
export function startTimeOf(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null;
}

/** The process `pid` is alive and is the one that started at `startTime` (not a reused PID). */
export function isSameProcess(pid: number, startTime: string): boolean {
  const st = startTimeOf(pid);
  return st !== null && st === startTime;
}
