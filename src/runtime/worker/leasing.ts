/**
 * One lease loop per manager: long-polls it for about HOLD_SECONDS of work per
 * thread (see plan.ts leaseAsk), waits while the worker holds enough, and
 * backs off (retry.ts) while the manager does not answer.
 */
import type { Logger } from '../../log.js';
import type { Changes } from './changes.js';
import { sleep, type Clock } from './clock.js';
import type { LeasedJob, ManagerLink } from './manager-link.js';
import { retryForever } from './retry.js';

/** Pause after an empty lease answer that did not long-poll. */
const EMPTY_PAUSE_MS = 500;

export interface LeaseDeps {
  workerId: string;
  leaseWaitMs: number;
  /** What to ask for now, or null when the worker holds enough. */
  ask(): { max: number; maxIterations: number } | null;
  /** Jobs came in from `link`. */
  took(link: ManagerLink, jobs: LeasedJob[], leaseMs: number): void;
  changes: Changes;
  clock: Clock;
  logger: Logger;
}

/** Leases from `link` until `stop` aborts. */
export async function leaseLoop(link: ManagerLink, d: LeaseDeps, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    if (!d.ask()) {
      await d.changes.wait(stop);
      continue;
    }
    const kick = link.kick;
    /** An empty answer that came back at once (a closing manager, or one that does not long-poll). */
    let emptyAtOnce = false;
    try {
      // The answer is taken in inside the attempt: it is dropped when the signal fires meanwhile.
      await retryForever(
        async () => {
          const ask = d.ask();
          if (!ask) return;
          const sentAt = d.clock.now();
          const res = await link.client.lease({ workerId: d.workerId, max: ask.max, maxIterations: ask.maxIterations, waitMs: d.leaseWaitMs }, { signal: stop });
          link.answered();
          link.leaseMs = res.leaseMs;
          if (res.jobs.length > 0) d.took(link, res.jobs, res.leaseMs);
          else emptyAtOnce = d.clock.now() - sentAt < Math.min(EMPTY_PAUSE_MS, d.leaseWaitMs / 2);
        },
        {
          clock: d.clock,
          signal: AbortSignal.any([stop, kick]),
          onFailedAttempt: (error, attemptNumber) => {
            if (!stop.aborted && !kick.aborted) link.failed('lease', error, attemptNumber);
          },
        },
      );
    } catch (err) {
      if (stop.aborted || kick.aborted) continue;
      // Not a call failure (those are retried): a bug. Log it and do not spin.
      d.logger.error('lease loop error', { manager: link.index, err: err as Error });
      await sleep(d.clock, 1_000, stop);
    }
    // Never spin on a manager that answers "nothing" without waiting.
    if (emptyAtOnce) await sleep(d.clock, EMPTY_PAUSE_MS * (1 + Math.random()), stop);
  }
}
