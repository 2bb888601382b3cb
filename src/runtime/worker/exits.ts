/**
 * The clock-driven rules, checked on a ticker: leases that ran out, and the
 * exits — 'no-manager' (no manager answered for noManagerTimeoutMs), 'lifetime'
 * (maxLifetimeMs; 0 = never) and 'idle' (nothing held or running for
 * idleTimeoutMs, counted from the first answer of a manager).
 */
import type { Clock, TimerHandle } from './clock.js';
import type { HeldJobs } from './held-jobs.js';

export type TimedExit = 'idle' | 'no-manager' | 'lifetime';

export interface ExitLimits {
  idleTimeoutMs: number;
  noManagerTimeoutMs: number;
  maxLifetimeMs: number;
}

export interface ExitWatchDeps {
  held: HeldJobs;
  /** Chunks still on the threads (a dropped job may still be running). */
  runningChunks(): number;
  /** When any manager last answered. */
  lastAnswerAt(): number;
  /** When a manager first answered; null until one has. */
  firstAnswerAt(): number | null;
  /** True once the worker is stopping: then only 'no-manager' is reported (it cuts the drain short). */
  stopping(): boolean;
  onExit(reason: TimedExit): void;
  clock: Clock;
}

export class ExitWatch {
  private readonly startedAt: number;
  private readonly everyMs: number;
  private timer: TimerHandle;
  private stopped = false;

  constructor(
    private readonly limits: ExitLimits,
    private readonly d: ExitWatchDeps,
  ) {
    this.startedAt = d.clock.now();
    // A tenth of the shortest limit, so an exit is at most 10 % late; within 20 ms–1 s.
    const shortest = Math.min(limits.idleTimeoutMs, limits.noManagerTimeoutMs, limits.maxLifetimeMs || Infinity);
    this.everyMs = Math.max(20, Math.min(1_000, shortest / 10));
  }

  start(): void {
    this.timer = this.d.clock.setTimeout(() => {
      this.tick();
      // An exit stops this watch from inside tick().
      if (!this.stopped) this.start();
    }, this.everyMs);
  }

  stop(): void {
    this.stopped = true;
    this.d.clock.clearTimeout(this.timer);
  }

  tick(): void {
    const { held, clock } = this.d;
    const now = clock.now();
    held.expire(now);
    const idle = held.size === 0 && this.d.runningChunks() === 0;
    if (!idle) held.lastBusyAt = now;
    // Nothing to do is only known from a manager's answer: a slow start (a
    // loaded machine, a manager still booting) is not idleness.
    const heard = this.d.firstAnswerAt();
    if (now - this.d.lastAnswerAt() >= this.limits.noManagerTimeoutMs) return this.d.onExit('no-manager');
    if (this.d.stopping()) return;
    if (this.limits.maxLifetimeMs > 0 && now - this.startedAt >= this.limits.maxLifetimeMs) this.d.onExit('lifetime');
    else if (idle && heard !== null && now - Math.max(held.lastBusyAt, heard) >= this.limits.idleTimeoutMs) this.d.onExit('idle');
  }
}
