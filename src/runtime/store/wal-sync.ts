import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

export type SyncFile = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

/** How the WAL reaches the disk; tests put a slow, held or failing disk here. */
export interface Disk {
  /** On the libuv pool. */
  sync: SyncFile;
  /** On the calling thread. */
  syncNow: (fd: number) => void;
  /** A sync slower than this (ms, on average) moves the syncs off the event loop. */
  slowMs: number;
  now: () => number;
}

const DEFAULT_DISK: Disk = { sync: fdatasync, syncNow: fdatasyncSync, slowMs: 1, now: () => performance.now() };

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Makes the queue's commits durable by syncing its WAL file: a group commits
 * without a sync of its own (synchronous=NORMAL) and its callers hear back
 * once `durable()` resolves. fdatasync flushes the file, not the descriptor,
 * so SQLite's writes through its own descriptor are covered.
 *
 * Where the disk syncs fast (here, a quarter of a millisecond) the sync runs
 * inline: handing it to the libuv pool costs two thread wake-ups, more than
 * it frees (measured: latency p50 4.5 → 5.0–6.3 ms, throughput no better).
 * Where it is slow (network volumes such as EBS take milliseconds) it runs on
 * the pool, so the event loop keeps serving while the disk works; one sync
 * runs at a time, and GroupCommit gathers the next group meanwhile, so a slow
 * disk makes groups larger, not the loop slower. A failed sync is final: what
 * it should have covered may be lost (the kernel may have dropped the pages),
 * so every later ask fails too.
 */
export class WalSync {
  private readonly fd: number;
  private readonly disk: Disk;
  /** Waiting for the sync that is running on the pool, or null when none is. */
  private running: Waiter[] | null = null;
  /** Moving average of the syncs' durations (ms). */
  private syncMs = 0;
  private failure: Error | null = null;
  private closing = false;

  constructor(walFile: string, disk: Partial<Disk> = {}) {
    this.disk = { ...DEFAULT_DISK, ...disk };
    this.fd = openSync(walFile, 'r');
  }

  /** Resolves once everything written to the WAL before this call is on disk. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error('the queue database is closed'));
    // One sync at a time; what was written during it needs one of its own.
    if (this.running) return this.settled().then(() => this.durable());
    if (this.syncMs <= this.disk.slowMs) {
      const t0 = this.disk.now();
      try {
        this.disk.syncNow(this.fd);
      } catch (err) {
        this.failure = err as Error;
        return Promise.reject(this.failure);
      }
      this.took(this.disk.now() - t0);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.start({ resolve, reject }));
  }

  /** Resolves once the running sync, if any, is done (without asking for one). */
  settled(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const running = this.running;
    if (!running) return Promise.resolve();
    return new Promise((resolve, reject) => running.push({ resolve, reject }));
  }

  /** A sync is running on the pool. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** The error of the sync that failed, if one did. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Closes the descriptor (after the running sync, if any). `err` is how the
   * database's close went: it checkpoints the WAL with syncs of its own, so
   * without an error whatever still waits is on disk.
   */
  close(err?: Error): void {
    this.closing = true;
    for (const w of this.running ?? []) settle(w, err ?? null);
    if (!this.running) closeSync(this.fd);
  }

  private took(ms: number): void {
    this.syncMs += (ms - this.syncMs) / 4;
  }

  private start(first: Waiter): void {
    const waiting = [first];
    this.running = waiting;
    const t0 = this.disk.now();
    this.disk.sync(this.fd, (err) => {
      this.running = null;
      this.took(this.disk.now() - t0);
      if (err && !this.failure) this.failure = err;
      for (const w of waiting) settle(w, this.failure);
      if (this.closing) closeSync(this.fd);
    });
  }
}

function settle(w: Waiter, err: Error | null): void {
  if (err) w.reject(err);
  else w.resolve();
}
