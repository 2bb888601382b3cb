import { closeSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { isSameProcess, startTimeOf } from './process-identity.js';

/** Who holds a lock file: enough to tell whether that process still runs. */
export interface LockHolder {
  pid: number;
  startTime: string;
  /** What the holder is doing ("deploy", "teardown"), for the message a waiter shows. */
  what: string;
  since: string;
}

export interface HeldLock {
  /** Removes the lock if it is still ours (a teardown may have removed its directory already). */
  release(): void;
}

/** A lock file this young that cannot be read is being written by its creator, not abandoned. */
const WRITING_GRACE_MS = 5_000;

/**
 * One try at an exclusive lock file (created with O_EXCL). A lock whose
 * holder has died (kill -9 included) is taken over; returns who holds it when
 * that process is still running.
 */
export function tryLock(file: string, what: string): HeldLock | { heldBy: LockHolder | null } {
  const startTime = startTimeOf(process.pid) ?? '';
  const mine = JSON.stringify({ pid: process.pid, startTime, what, since: new Date().toISOString() } satisfies LockHolder) + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const seen = readHolder(file);
      if (seen === 'gone') continue;
      if (seen === 'writing') return { heldBy: null };
      if (seen.holder && isSameProcess(seen.holder.pid, seen.holder.startTime)) return { heldBy: seen.holder };
      if (!breakStale(file, seen.text)) return { heldBy: seen.holder };
      continue;
    }
    try {
      writeSync(fd, mine);
    } finally {
      closeSync(fd);
    }
    return {
      release: () => {
        try {
          if (readFileSync(file, 'utf8') === mine) unlinkSync(file);
        } catch {
          // gone already
        }
      },
    };
  }
  return { heldBy: null };
}

function readHolder(file: string): 'gone' | 'writing' | { text: string; holder: LockHolder | null } {
  let text: string;
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(file).mtimeMs;
    text = readFileSync(file, 'utf8');
  } catch {
    return 'gone';
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isSafeInteger(h.pid) && typeof h.startTime === 'string') return { text, holder: h };
  } catch {
    // empty or torn: its writer is between open and write, or died there
  }
  return ageMs < WRITING_GRACE_MS ? 'writing' : { text, holder: null };
}

/**
 * Removes a dead holder's lock, under a second short-lived lock so two
 * processes that both judged it stale cannot remove each other's new lock:
 * the file is re-read under it and removed only if it is still the stale one.
 */
function breakStale(file: string, staleText: string): boolean {
  const breaker = `${file}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A breaker only lives for a few syscalls: an old one was left by a crash.
    try {
      if (Date.now() - statSync(breaker).mtimeMs > WRITING_GRACE_MS) rmSync(breaker, { force: true });
    } catch {
      // gone already
    }
    return false;
  }
  closeSync(fd);
  try {
    let now: string | null;
    try {
      now = readFileSync(file, 'utf8');
    } catch {
      now = null;
    }
    if (now === staleText) unlinkSync(file);
    return true;
  } finally {
    rmSync(breaker, { force: true });
  }
}
