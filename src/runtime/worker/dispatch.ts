/**
 * Feeding the hashing threads (piscina): queued jobs go out in chunks of
 * chains that fill the hash path's lanes; a thread works on a chunk for about
 * CHUNK_SECONDS and hands back the unfinished chains, which queue again
 * behind the jobs waiting (the chains held take turns). So each thread sees a
 * stream of jobs with its lanes kept full, a job whose lease is lost stops
 * within a chunk, and finished chunks refine the measured hash rate.
 */
import { Piscina } from 'piscina';
import { LANES, checkPath, choosePath, supportedPaths, type HashPath } from '../../job/hash.js';
import type { Logger } from '../../log.js';
import type { Changes } from './changes.js';
import type { HeldJob, HeldJobs } from './held-jobs.js';
import { calibrate, RateMeter } from './hash-rate.js';
import runChunk, { type ChunkResult, type ChunkTask } from './hash-thread.js';
import { CHUNK_SECONDS } from './plan.js';

/**
 * A chunk this small (in chain steps and data: well under a millisecond) is hashed
 * here on the main thread: a thread's round trip costs more than the hashing,
 * and a lone small job's result is back sooner.
 */
const INLINE_STEPS = 64;
const INLINE_BYTES = 64 * 1024;

export class Dispatch {
  runningChunks = 0;
  readonly path: HashPath;
  readonly lanes: number;
  private readonly pool: Piscina<ChunkTask, ChunkResult>;
  private meter = new RateMeter(1);

  constructor(
    private readonly threads: number,
    private readonly held: HeldJobs,
    /** A job's result is in (the job is now 'done'). */
    private readonly onResult: (job: HeldJob) => void,
    private readonly changes: Changes,
    /** Ends the dispatching: no chunk is started, failures of running ones are not reported. */
    private readonly stop: AbortSignal,
    private readonly logger: Logger,
    requestedPath?: string,
  ) {
    this.path = pickPath(requestedPath, logger);
    this.lanes = LANES[this.path];
    this.pool = new Piscina<ChunkTask, ChunkResult>({
      filename: new URL('./hash-thread.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  /** Chain steps per second per thread with its lanes full (measured: hash-rate.ts). */
  get rate(): number {
    return this.meter.value;
  }

  calibrate(): void {
    this.meter = new RateMeter(calibrate(this.path, this.lanes));
  }

  /** Starts chunks while a thread is free and jobs are queued. */
  pump(): void {
    while (this.runningChunks < this.threads && this.held.queuedJobs > 0 && !this.stop.aborted) {
      const chunk = this.held.nextChunk(this.rate, this.threads, this.lanes);
      if (chunk.length === 0) break;
      this.run(chunk);
    }
  }

  /** A chunk came back: finished jobs go out, unfinished ones queue again where they stand. */
  private took(chunk: HeldJob[], out: ChunkResult): void {
    for (let i = 0; i < chunk.length; i++) {
      const job = chunk[i]!;
      const result = out.results[i];
      if (typeof result === 'string') {
        if (this.held.finish(job, result)) {
          this.logger.debug('job done', { jobId: job.id, iterations: job.iterations });
          this.onResult(job);
        }
      } else {
        this.held.suspend(job, { digest: out.digests.slice(64 * i, 64 * i + 64), remaining: out.remaining[i]! });
      }
    }
    // Only a chunk that filled the lanes measures what a thread can do.
    if (chunk.length >= this.lanes) this.meter.sample(out.fastest);
  }

  async destroy(): Promise<void> {
    await this.pool.destroy();
  }

  private run(chunk: HeldJob[]): void {
    const task: ChunkTask = {
      path: this.path,
      budgetMs: CHUNK_SECONDS * 1000,
      jobs: chunk.map((j) => (j.progress ? { data: null, digest: j.progress.digest, remaining: j.progress.remaining } : { data: j.data, digest: null, remaining: j.iterations - 1 })),
    };
    for (const j of chunk) j.data = ''; // the thread has its copy
    if (task.jobs.reduce((n, j) => n + j.remaining, 0) <= INLINE_STEPS && task.jobs.reduce((n, j) => n + (j.data?.length ?? 0), 0) <= INLINE_BYTES) {
      this.took(chunk, runChunk(task));
      this.changes.notify();
      return;
    }
    this.runningChunks++;
    this.pool
      .run(task)
      .then(
        (out) => this.took(chunk, out),
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

/**
 * The path this worker hashes with: DYNWORK_HASH when set, else the best this
 * CPU runs; checked against the JavaScript loop before any job runs on it, and
 * on a mismatch (or a forced path this machine lacks) the next one down, with
 * a log line saying why.
 */
export function pickPath(requested: string | undefined, logger: Logger, check: (path: HashPath) => string | null = checkPath): HashPath {
  let first: HashPath;
  try {
    first = choosePath(requested);
  } catch (err) {
    first = choosePath('');
    logger.error('hash path refused; using the best this machine runs', { requested, path: first, error: (err as Error).message });
  }
  const supported = supportedPaths();
  for (const path of supported.slice(supported.indexOf(first))) {
    const wrong = check(path);
    if (wrong === null) {
      logger.info('hash path', { path, lanes: LANES[path], supported, requested: requested || undefined });
      return path;
    }
    logger.error('hash path gave wrong results at start-up; trying the next one', { path, error: wrong });
  }
  return 'javascript';
}
