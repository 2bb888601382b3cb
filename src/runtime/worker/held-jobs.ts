/**
 * The ledger of leased jobs: each one's state (queued here, running, done and
 * waiting for delivery, gone), the manager it belongs to, and when its lease
 * runs out. It keeps the counts the lease and batching decisions read, and
 * wakes waiters (Changes) whenever a job leaves.
 */
import type { Logger } from '../../log.js';
import type { Changes } from './changes.js';
import type { Clock } from './clock.js';
import type { LeasedJob, ManagerLink } from './manager-link.js';
import { chunkTarget, takeChunk, workOf } from './plan.js';

export type JobState = 'queued' | 'running' | 'done' | 'gone';

export interface HeldJob {
  id: number;
  data: string;
  iterations: number;
  work: number;
  /** The manager the result goes to (the owner) and whose heartbeats extend the lease. */
  link: ManagerLink;
  /** When the lease runs out, by this process's clock (conservative). */
  deadline: number;
  state: JobState;
  result: string;
  /** Where its chain stands once a thread has started it: the digest so far and the steps left. */
  progress: { digest: Uint8Array; remaining: number } | null;
}

export class HeldJobs {
  private readonly jobs = new Map<number, HeldJob>();
  private queue: HeldJob[] = [];
  queuedJobs = 0;
  queuedWork = 0;
  /** Jobs queued or running, and their work. */
  activeJobs = 0;
  activeWork = 0;
  undelivered = 0;
  /** Last time anything was held (the idle exit counts from here). */
  lastBusyAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly changes: Changes,
    private readonly logger: Logger,
  ) {
    this.lastBusyAt = clock.now();
  }

  get size(): number {
    return this.jobs.size;
  }

  get(id: number): HeldJob | undefined {
    return this.jobs.get(id);
  }

  ids(): number[] {
    return [...this.jobs.keys()];
  }

  /** Ids held for `link` (the ones its heartbeats keep). */
  idsOf(link: ManagerLink): number[] {
    const ids: number[] = [];
    for (const j of this.jobs.values()) if (j.link === link) ids.push(j.id);
    return ids;
  }

  /**
   * Takes in what `from` leased; each job belongs to its owner (`ownerOf` its
   * id) when the worker talks to it, else to `from`. Returns the ids that are new here.
   */
  add(from: ManagerLink, jobs: LeasedJob[], leaseMs: number, ownerOf: (jobId: number) => ManagerLink | undefined): number[] {
    const deadline = this.clock.now() + leaseMs;
    const ids: number[] = [];
    for (const j of jobs) {
      const have = this.jobs.get(j.id);
      if (have) {
        // Leased to us again (our lease had expired there): the old copy still counts.
        have.deadline = deadline;
        continue;
      }
      const job: HeldJob = {
        id: j.id,
        data: j.data,
        iterations: j.iterations,
        work: workOf(j),
        link: ownerOf(j.id) ?? from,
        deadline,
        state: 'queued',
        result: '',
        progress: null,
      };
      this.jobs.set(job.id, job);
      this.queue.push(job);
      this.queuedJobs++;
      this.queuedWork += job.work;
      this.activeJobs++;
      this.activeWork += job.work;
      ids.push(job.id);
    }
    this.lastBusyAt = this.clock.now();
    return ids;
  }

  /** The next chunk for a thread (see plan.ts), now marked running; empty when nothing is queued. */
  nextChunk(rate: number, threads: number, lanes = 1): HeldJob[] {
    const chunk = takeChunk(this.queue, chunkTarget(rate, this.queuedWork, threads), (j) => j.state !== 'queued', lanes);
    for (const j of chunk) {
      j.state = 'running';
      this.queuedJobs--;
      this.queuedWork -= j.work;
    }
    return chunk;
  }

  /** A running job's result is in. False when the job was dropped meanwhile. */
  finish(job: HeldJob, result: string): boolean {
    if (job.state !== 'running') return false; // lost meanwhile
    job.state = 'done';
    job.result = result;
    job.progress = null;
    this.activeJobs--;
    this.activeWork -= job.work;
    this.undelivered++;
    return true;
  }

  /**
   * A running job's thread stopped before the end of its chain: it queues
   * again behind the jobs waiting, to go on from `progress`. So the chains
   * held take turns in the lanes and finish together, instead of the first
   * ones finishing early and the last few running in lanes left empty (held
   * work is about HOLD_SECONDS a thread, so no chain waits longer than that
   * for its turn). False when the job was dropped meanwhile.
   */
  suspend(job: HeldJob, progress: { digest: Uint8Array; remaining: number }): boolean {
    if (job.state !== 'running') return false;
    job.state = 'queued';
    job.progress = progress;
    this.activeWork -= job.work - progress.remaining;
    job.work = progress.remaining;
    this.queuedJobs++;
    this.queuedWork += job.work;
    this.queue.push(job);
    return true;
  }

  /** The lease of `link`'s jobs among `ids` now runs until `deadline`. */
  extend(link: ManagerLink, ids: number[], deadline: number): void {
    for (const id of ids) {
      const j = this.jobs.get(id);
      if (j && j.link === link) j.deadline = deadline;
    }
  }

  /** Forgets a job (lost, rejected, expired, failed): it is no longer worked on, reported or heartbeated. */
  drop(job: HeldJob): void {
    switch (job.state) {
      case 'gone':
        return;
      case 'queued':
        this.queuedJobs--;
        this.queuedWork -= job.work;
        this.activeJobs--;
        this.activeWork -= job.work;
        break;
      case 'running':
        this.activeJobs--;
        // Its thread stops within a chunk's time budget; what it brings back is ignored.
        this.activeWork -= job.work;
        break;
      case 'done':
        this.undelivered--;
        break;
    }
    job.state = 'gone';
    job.data = '';
    job.result = '';
    job.progress = null;
    this.jobs.delete(job.id);
    if (this.jobs.size === 0) this.lastBusyAt = this.clock.now();
    this.changes.notify();
  }

  /**
   * Drops jobs whose lease ran out (their manager did not extend it): someone
   * else will run these. A running job is left alone: a heartbeat says when it is lost.
   */
  expire(now: number): void {
    for (const j of this.jobs.values()) {
      if ((j.state === 'queued' || j.state === 'done') && now > j.deadline) {
        this.logger.warn(j.state === 'done' ? 'lease ran out before the result was delivered; dropped' : 'lease ran out before the job started; dropped', {
          jobId: j.id,
          manager: j.link.index,
        });
        this.drop(j);
      }
    }
  }
}
