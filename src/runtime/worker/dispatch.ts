/**
 * Feeding the hashing threads (piscina): queued jobs go out in chunks (many
 * tiny jobs per message, a big one alone, so it can be stopped when its lease
 * is lost), and finished chunks refine the measured hash rate.
 */
import { Piscina } from 'piscina';
import { iteratedSha512 } from '../../job/hash.js';
import type { Logger } from '../../log.js';
import type { Changes } from './changes.js';
import type { HeldJob, HeldJobs } from './held-jobs.js';
import type { ChunkResult, ChunkTask } from './hash-thread.js';

/** A rate sample counts only from chunks this big (smaller ones are mostly overhead). */
const MIN_SAMPLE_ITERATIONS = 50_000;

export class Dispatch {
  /** Iterations per second per thread (measured). */
  rate = 1;
  runningChunks = 0;
  private readonly pool: Piscina<ChunkTask, ChunkResult>;

  constructor(
    private readonly threads: number,
    private readonly held: HeldJobs,
    /** A job's result is in (the job is now 'done'). */
    private readonly onResult: (job: HeldJob) => void,
    private readonly changes: Changes,
    /** Ends the dispatching: no chunk is started, failures of running ones are not reported. */
    private readonly stop: AbortSignal,
    private readonly logger: Logger,
  ) {
    this.pool = new Piscina<ChunkTask, ChunkResult>({
      filename: new URL('./hash-thread.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  calibrate(): void {
    this.rate = calibrate();
  }

  /** Starts chunks while a thread is free and jobs are queued. */
  pump(): void {
    while (this.runningChunks < this.threads && this.held.queuedJobs > 0 && !this.stop.aborted) {
      const chunk = this.held.nextChunk(this.rate, this.threads);
      if (chunk.length === 0) break;
      this.run(chunk);
    }
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }

  private run(chunk: HeldJob[]): void {
    this.runningChunks++;
    const only = chunk.length === 1 ? chunk[0] : undefined;
    if (only) only.abort = new AbortController();
    const task: ChunkTask = { jobs: chunk.map((j) => ({ data: j.data, iterations: j.iterations })) };
    for (const j of chunk) j.data = ''; // the thread has its copy
    this.pool
      .run(task, only?.abort ? { signal: only.abort.signal } : {})
      .then(
        (out) => {
          let iterations = 0;
          for (let i = 0; i < chunk.length; i++) {
            const job = chunk[i]!;
            const result = out.results[i];
            iterations += job.iterations;
            if (typeof result === 'string') {
              if (this.held.finish(job, result)) {
                this.logger.debug('job done', { jobId: job.id, iterations: job.iterations });
                this.onResult(job);
              }
            } else if (job.state === 'running') {
              const message = out.errors.find((e) => e.index === i)?.message ?? 'no result';
              this.logger.error('job could not be hashed; giving it up', { jobId: job.id, error: message });
              this.held.drop(job);
            }
          }
          if (iterations >= MIN_SAMPLE_ITERATIONS && out.ms > 1) this.rate = 0.8 * this.rate + 0.2 * (iterations / (out.ms / 1000));
        },
        (err: unknown) => {
          const mine = chunk.filter((j) => j.state === 'running');
          if (mine.length === 0 || this.stop.aborted) return;
          // A thread died on these jobs: give them up; their leases expire and the
          // manager counts the attempt (a poison job ends up failed there).
          this.logger.error('hashing failed; giving the jobs up', { jobIds: mine.map((j) => j.id), err: err as Error });
          for (const j of mine) this.held.drop(j);
        },
      )
      .finally(() => {
        this.runningChunks--;
        this.pump();
        this.changes.notify();
      });
  }
}

/** Iterations per second on this thread, from a ~10 ms run; refined by real chunks later. */
function calibrate(): number {
  iteratedSha512('calibrate', 2_000);
  const n = 10_000;
  const t0 = performance.now();
  iteratedSha512('calibrate', n);
  return n / Math.max(0.001, (performance.now() - t0) / 1000);
}
