/**
 * Time as the worker's parts see it. Passed in rather than read from globals,
 * so their tests drive leases, heartbeats, batching and exits with a manual
 * clock instead of waiting on the wall clock.
 */

/** Opaque: whatever the clock's setTimeout returned. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, comparable with earlier now() values of the same clock. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Ignores undefined and timers that already fired. */
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

/** Waits `ms` on `clock`, or less when `signal` aborts. Never rejects. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = clock.setTimeout(done, ms);
    function done(): void {
      clock.clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** An AbortSignal that aborts after `ms` on `clock` (AbortSignal.timeout reads the wall clock). */
export function timeoutSignal(clock: Clock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const ac = new AbortController();
  const t = clock.setTimeout(() => ac.abort(new DOMException('The operation timed out.', 'TimeoutError')), ms);
  return { signal: ac.signal, cancel: () => clock.clearTimeout(t) };
}
