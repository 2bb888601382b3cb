/**
 * Results on their way to their owner manager, batched per manager: flushed
 * when many are waiting or nothing else is held here, after a few ms while
 * other jobs still run, else within resultBatchMs (see flushDelay); retried
 * with backoff while the lease is held. Ids the manager rejects are dropped,
 * like accepted ones.
 */
import type { Logger } from '../../log.js';
import { sleep, type Clock, type TimerHandle } from './clock.js';
import type { HeldJob, HeldJobs } from './held-jobs.js';
import type { CompleteAnswer, ManagerLink } from './manager-link.js';
import { flushDelay } from './plan.js';
import { retryForever } from './retry.js';

const MAX_COMPLETE_BATCH = 2_000;

interface Outbox {
  /** Finished results waiting for this manager (may hold gone jobs, skipped). */
  buffer: HeldJob[];
  delivering: Promise<void> | undefined;
  flushTimer: TimerHandle;
  /** When the pending flush fires (clock ms). */
  flushDue: number;
}

export class Deliveries {
  /** Results accepted by their managers since the start. */
  delivered = 0;
  private readonly outboxes = new Map<ManagerLink, Outbox>();

  constructor(
    private readonly held: HeldJobs,
    private readonly workerId: string,
    private readonly resultBatchMs: number,
    private readonly clock: Clock,
    /** Ends the deliveries: the call in flight is cut, nothing is retried or sent again. */
    private readonly stop: AbortSignal,
    private readonly logger: Logger,
  ) {}

  /** A result is in: it goes to its job's manager with the next batch. */
  add(job: HeldJob): void {
    this.outbox(job.link).buffer.push(job);
    // Nothing else held: no company is coming for any manager's results, and
    // even a zero timer would add a millisecond to a lone job's round trip.
    if (this.held.activeJobs === 0) this.flushAll();
    else this.flushSoon(job.link);
  }

  /** Sends everything waiting now (a draining worker does not wait for company). */
  flushAll(): void {
    for (const [link, o] of this.outboxes) {
      if (o.buffer.length === 0) continue;
      this.clock.clearTimeout(o.flushTimer);
      o.flushTimer = undefined;
      this.deliver(link);
    }
  }

  /** Clears the timers (once `stop` has aborted) and waits for the deliveries in flight. */
  async settled(): Promise<void> {
    for (const o of this.outboxes.values()) this.clock.clearTimeout(o.flushTimer);
    await Promise.allSettled([...this.outboxes.values()].flatMap((o) => (o.delivering ? [o.delivering] : [])));
  }

  private outbox(link: ManagerLink): Outbox {
    let o = this.outboxes.get(link);
    if (!o) {
      o = { buffer: [], delivering: undefined, flushTimer: undefined, flushDue: 0 };
      this.outboxes.set(link, o);
    }
    return o;
  }

  private flushSoon(link: ManagerLink): void {
    const o = this.outbox(link);
    if (o.delivering || this.stop.aborted) return; // the running delivery takes them
    const delay = flushDelay(o.buffer.length, this.held.queuedJobs, this.resultBatchMs);
    const due = this.clock.now() + delay;
    if (o.flushTimer !== undefined && o.flushDue <= due) return;
    this.clock.clearTimeout(o.flushTimer);
    o.flushDue = due;
    o.flushTimer = this.clock.setTimeout(() => {
      o.flushTimer = undefined;
      this.deliver(link);
    }, delay);
  }

  private deliver(link: ManagerLink): void {
    const o = this.outbox(link);
    if (o.delivering) return;
    o.delivering = this.deliveryLoop(link, o)
      .catch((err: unknown) => this.logger.error('delivery loop crashed', { manager: link.index, err: err as Error }))
      .finally(() => {
        o.delivering = undefined;
        if (o.buffer.some((j) => j.state === 'done')) this.flushSoon(link);
      });
  }

  private async deliveryLoop(link: ManagerLink, o: Outbox): Promise<void> {
    const stop = this.stop;
    while (!stop.aborted) {
      o.buffer = o.buffer.filter((j) => j.state === 'done');
      if (o.buffer.length === 0) return;
      const kick = link.kick;
      try {
        await retryForever(
          async () => {
            const batch = o.buffer.filter((j) => j.state === 'done').slice(0, MAX_COMPLETE_BATCH);
            if (batch.length === 0) return;
            const res = await link.client.complete({ workerId: this.workerId, results: batch.map((j) => ({ id: j.id, result: j.result })) }, { signal: stop });
            link.answered();
            this.completed(link, o, batch, res);
          },
          {
            clock: this.clock,
            signal: AbortSignal.any([stop, kick]),
            onFailedAttempt: (error, attemptNumber) => {
              if (!stop.aborted && !kick.aborted) link.failed('complete', error, attemptNumber);
            },
          },
        );
      } catch (err) {
        if (stop.aborted || kick.aborted) continue;
        this.logger.error('delivery error', { manager: link.index, err: err as Error });
        await sleep(this.clock, 1_000, stop);
      }
    }
  }

  private completed(link: ManagerLink, o: Outbox, batch: HeldJob[], res: CompleteAnswer): void {
    const accepted = new Set(res.accepted);
    const rejected = new Set(res.rejected);
    let n = 0;
    for (const j of batch) {
      if (j.state !== 'done') continue;
      if (accepted.has(j.id)) {
        n++;
        this.delivered++;
      } else if (rejected.has(j.id)) {
        this.logger.info('result rejected (the lease was lost); dropped', { jobId: j.id, manager: link.index });
      } else {
        this.logger.warn('manager neither accepted nor rejected a result; dropped', { jobId: j.id, manager: link.index });
      }
      this.held.drop(j);
    }
    o.buffer = o.buffer.filter((j) => j.state === 'done');
    this.logger.debug('results delivered', { manager: link.index, accepted: n, rejected: res.rejected.length });
  }
}
