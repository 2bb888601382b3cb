/**
 * Lease renewal, like BullMQ's LockManager: one timer per manager renews what
 * is held for it, every leaseMs/3, idle or not (the heartbeat also tells the
 * manager the worker is alive and how fast it hashes). Ids the manager
 * reports lost are dropped.
 */
import type { Logger } from '../../log.js';
import type { Clock, TimerHandle } from './clock.js';
import type { HeldJobs } from './held-jobs.js';
import type { ManagerLink } from './manager-link.js';

export interface HeartbeatInfo {
  workerId: string;
  instanceId: string | undefined;
  threads: number;
  /** Measured iterations per second per thread. */
  hashRate(): number;
}

export class Heartbeats {
  private readonly timers = new Map<ManagerLink, TimerHandle>();
  private readonly inFlight = new Map<ManagerLink, Promise<void>>();

  constructor(
    private readonly held: HeldJobs,
    private readonly info: HeartbeatInfo,
    private readonly clock: Clock,
    /** Ends the heartbeats: the call in flight is cut and no timer is set again. */
    private readonly stop: AbortSignal,
    private readonly logger: Logger,
  ) {}

  /** Beats to `link` now, then every leaseMs/3 until `stop` aborts. */
  start(link: ManagerLink): void {
    void this.beat(link);
  }

  /** Clears the timers (once `stop` has aborted) and waits for the calls in flight. */
  async settled(): Promise<void> {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled(this.inFlight.values());
  }

  private beat(link: ManagerLink): Promise<void> {
    if (this.stop.aborted) return Promise.resolve();
    const p = this.renew(link).finally(() => {
      this.inFlight.delete(link);
      if (this.stop.aborted) return;
      this.timers.set(
        link,
        this.clock.setTimeout(() => void this.beat(link), Math.max(50, link.leaseMs / 3)),
      );
    });
    this.inFlight.set(link, p);
    return p;
  }

  private async renew(link: ManagerLink): Promise<void> {
    const ids = this.held.idsOf(link);
    const sentAt = this.clock.now();
    try {
      const res = await link.client.heartbeat(
        {
          workerId: this.info.workerId,
          ids,
          hashRate: Math.round(this.info.hashRate()),
          threads: this.info.threads,
          busy: this.held.size,
          ...(this.info.instanceId === undefined ? {} : { instanceId: this.info.instanceId }),
        },
        { signal: this.stop },
      );
      link.answered();
      link.leaseMs = res.leaseMs;
      this.held.extend(link, res.extended, sentAt + res.leaseMs);
      for (const id of res.lost) {
        const j = this.held.get(id);
        if (!j || j.link !== link) continue;
        // A done job may just have been accepted by a complete racing this heartbeat.
        if (j.state === 'done') this.logger.debug('lease gone while delivering; dropped', { jobId: id, manager: link.index });
        else this.logger.info('lease lost; job dropped', { jobId: id, manager: link.index, state: j.state });
        this.held.drop(j);
      }
    } catch (err) {
      if (!this.stop.aborted) link.failed('heartbeat', err, 1);
    }
  }
}
