/**
 * Parked long-poll requests. Whatever may have made their answer ready (for
 * leases: an enqueue or expired leases; for pulls: completed jobs) wakes them
 * all; each then tries again.
 */
export class Waiters {
  private waiting = new Set<() => void>();

  /** Resolves on the next wake-up, after `ms`, or when `signal` aborts, whichever is first. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      this.waiting.add(done);
    });
  }

  wakeAll(): void {
    for (const w of [...this.waiting]) w();
  }

  get size(): number {
    return this.waiting.size;
  }
}

/**
 * The reason a long-poll's wait stops when its caller hangs up: a given
 * reason spares building an AbortError (with its stack) at the end of every
 * long-poll, since a response closes when it is answered too.
 */
export const HUNG_UP = new Error('the caller hung up');
