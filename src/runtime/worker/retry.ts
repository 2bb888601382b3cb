/**
 * Retrying a call to a manager until it answers or the signal aborts:
 * exponential, jittered backoff capped at 30 s (what p-retry did here, with
 * the same delays), but waiting on the worker's clock so tests can skip it.
 */
import { sleep, type Clock } from './clock.js';

export const BACKOFF = { factor: 2, minTimeoutMs: 250, maxTimeoutMs: 30_000 } as const;

/** Node's fetch/undici network failures are TypeErrors too; they are retried like any failed call. */
const NETWORK_MESSAGES = new Set(['fetch failed', 'terminated']);

/** The wait before retry number `failures` (1 = after the first failure): doubling from 250 ms, times 1–2, at most 30 s. */
export function backoffMs(failures: number, random: number = Math.random()): number {
  return Math.min(BACKOFF.maxTimeoutMs, Math.round((random + 1) * BACKOFF.minTimeoutMs * BACKOFF.factor ** (failures - 1)));
}

/**
 * Runs `attempt` until it resolves. Rejects with the signal's reason once it
 * aborts (an answer that arrives after that is dropped, so take an answer in
 * inside `attempt`), and with the error of an attempt that threw a plain
 * TypeError: that is a bug, not a failed call, and retrying would spin.
 */
export async function retryForever<T>(attempt: () => Promise<T>, opts: { clock: Clock; signal: AbortSignal; onFailedAttempt: (error: Error, attemptNumber: number) => void }): Promise<T> {
  const { clock, signal } = opts;
  signal.throwIfAborted();
  for (let n = 1; ; n++) {
    try {
      signal.throwIfAborted();
      const result = await attempt();
      signal.throwIfAborted();
      return result;
    } catch (err) {
      const error = err instanceof Error ? err : new TypeError(`Non-error was thrown: "${String(err)}". You should only throw errors.`);
      opts.onFailedAttempt(error, n);
      if (error instanceof TypeError && !NETWORK_MESSAGES.has(error.message)) throw error;
      signal.throwIfAborted();
      await sleep(clock, backoffMs(n), signal);
      signal.throwIfAborted();
    }
  }
}
