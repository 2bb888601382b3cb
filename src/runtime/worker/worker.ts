/**
 * The worker (DESIGN §2, §5, §6): long-polls every manager for leases, hashes
 * on `threads` worker threads (piscina), sends each result to the manager that
 * owns the job, in batches, and keeps its leases alive by heartbeat.
 *
 * - One lease loop per manager. It asks for about HOLD_SECONDS of work per
 *   thread (measured hash rate), so small jobs come in batches and heavy ones
 *   are not hoarded; see plan.ts.
 * - Jobs reach the threads in chunks: many tiny jobs per message, a big one
 *   alone (a big one alone can also be stopped when its lease is lost).
 * - Results are batched per owner manager (flushed when many are waiting,
 *   after a few ms when nothing else is queued here, else within 250 ms),
 *   retried with backoff while the lease is held; ids the
 *   manager rejects are dropped. Heartbeats go to every manager every
 *   leaseMs/3, idle or not; ids reported lost are dropped.
 * - Unreachable managers: exponential, jittered backoff capped at 30 s, and a
 *   retry at once when the manager answers another call.
 * - Exits: 'idle' (nothing held for idleTimeoutMs), 'no-manager' (no manager
 *   answered for noManagerTimeoutMs), 'lifetime' (maxLifetimeMs: stop leasing,
 *   finish and deliver, exit), 'signal' (close()).
 *
 * Logs one JSON line per event with ids and counts; never job data, results
 * or tokens.
 */
import { hostname } from 'node:os';
import pRetry from 'p-retry';
import { Piscina } from 'piscina';
import { ManagerClient } from '../../client/manager-client.js';
import { HASH_BACKEND, iteratedSha512 } from '../../job/hash.js';
import type { WorkerConfig } from '../config.js';
import { createLogger, type Logger } from '../log.js';
import { ownerOf, type CompleteResponse, type LeasedJob } from '../protocol.js';
import { managerIdentity } from '../tls-identity.js';
import type { ChunkResult, ChunkTask } from './hash-thread.js';
import { chunkTarget, flushDelay, leaseAsk, takeChunk, workOf } from './plan.js';

export type ExitReason = 'idle' | 'no-manager' | 'lifetime' | 'signal';

export interface WorkerOptions {
  logger?: Logger;
  /** Called once when the worker has stopped (before `done` resolves), e.g. to stop the machine. */
  onExit?: (reason: ExitReason) => void | Promise<void>;
  /** Longest close() or the lifetime exit spend finishing and delivering what is held. @default 30000 */
  drainTimeoutMs?: number;
}

export interface WorkerStats {
  workerId: string;
  /** Jobs held: queued here, running, or finished and not yet accepted by their manager. */
  held: number;
  running: number;
  undelivered: number;
  /** Results accepted by their managers since the start. */
  delivered: number;
  /** Iterations per second per thread (measured). */
  hashRate: number;
  managers: { index: number; url: string; reachable: boolean }[];
}

export interface RunningWorker {
  readonly workerId: string;
  /** Resolves once, when the worker has stopped, with why. Never rejects. */
  readonly done: Promise<{ reason: ExitReason }>;
  /** Graceful stop: no more leases, finish running jobs, deliver results (bounded), release everything. Idempotent. */
  close(): Promise<void>;
  stats(): WorkerStats;
}

/** Starts a worker. Its threads start at once; stop it with close() or wait for `done`. */
export function startWorker(config: WorkerConfig, opts: WorkerOptions = {}): RunningWorker {
  const w = new Worker(config, opts);
  w.start();
  return { workerId: w.workerId, done: w.done, close: () => w.close(), stats: () => w.stats() };
}

// --- Implementation ---

const BACKOFF = { factor: 2, minTimeout: 250, maxTimeout: 30_000, randomize: true } as const;
/** Pause after an empty lease answer that did not long-poll. */
const EMPTY_PAUSE_MS = 500;
const FAILURE_LOG_MS = 30_000;
const MAX_COMPLETE_BATCH = 2_000;
/** A rate sample counts only from chunks this big (smaller ones are mostly overhead). */
const MIN_SAMPLE_ITERATIONS = 50_000;

type JobState = 'queued' | 'running' | 'done' | 'gone';

interface HeldJob {
  id: number;
  data: string;
  iterations: number;
  work: number;
  /** The manager the result goes to (the owner) and whose heartbeats extend the lease. */
  link: Link;
  /** When the lease runs out, by this process's clock (conservative). */
  deadline: number;
  state: JobState;
  result: string;
  /** Set for a job running alone on a thread: aborting it stops the thread. */
  abort?: AbortController;
}

interface Link {
  index: number;
  client: ManagerClient;
  leaseMs: number;
  reachable: boolean;
  /** When the current run of failures began (for the "answering again" log). */
  failingSince: number;
  /** Last loud failure log: a flapping manager is logged loudly once per FAILURE_LOG_MS. */
  warnedAt: number;
  /** Finished results waiting for this manager (may hold gone jobs, skipped). */
  buffer: HeldJob[];
  delivering: Promise<void> | undefined;
  flushTimer: NodeJS.Timeout | undefined;
  /** When the pending flush fires (Date.now() ms). */
  flushDue: number;
  heartbeatTimer: NodeJS.Timeout | undefined;
  heartbeating: Promise<void> | undefined;
  leasing: Promise<void> | undefined;
  /** Aborted when the manager answers again, to cut the backoff waits short. */
  kick: AbortController;
}

/** Wakes everyone waiting for "something changed" (room to lease, a job gone…). */
class Changes {
  private waiters: (() => void)[] = [];

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }
}

class Worker {
  readonly workerId: string;
  readonly done: Promise<{ reason: ExitReason }>;
  private resolveDone!: (v: { reason: ExitReason }) => void;
  private readonly logger: Logger;
  private readonly threads: number;
  private readonly links: Link[];
  private readonly byIndex: Map<number, Link>;
  private readonly pool: Piscina<ChunkTask, ChunkResult>;
  private readonly held = new Map<number, HeldJob>();
  private queue: HeldJob[] = [];
  private queuedJobs = 0;
  private queuedWork = 0;
  /** Jobs queued or running, and their work. */
  private activeJobs = 0;
  private activeWork = 0;
  private undelivered = 0;
  private delivered = 0;
  private runningChunks = 0;
  private rate = 1;
  private readonly changes = new Changes();
  /** Stops the lease loops. */
  private readonly leaseStop = new AbortController();
  /** Stops everything else (heartbeats, deliveries, threads). */
  private readonly hardStop = new AbortController();
  /** Ends a drain early (no manager answers any more). */
  private readonly drainStop = new AbortController();
  private ticker: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private lastAnswerAt = Date.now();
  private lastBusyAt = Date.now();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: WorkerConfig,
    private readonly opts: WorkerOptions,
  ) {
    // The provider's id when there is one, so `dynwork status`, the logs and a job's attempts name a worker alike.
    this.workerId = config.workerId ?? config.instanceId ?? `${hostname()}-${process.pid}`;
    this.threads = config.threads;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.logger = (opts.logger ?? createLogger({}, { level: config.logLevel })).child({ role: 'worker', workerId: this.workerId });
    this.links = config.managers.map((endpoint) => ({
      index: endpoint.index,
      client: new ManagerClient({
        endpoint,
        token: config.workerToken,
        timeoutMs: config.requestTimeoutMs,
        logger: this.logger,
        ...(config.ca ? { pin: { ca: config.ca, identity: managerIdentity(config.cluster, endpoint.index) } } : {}),
      }),
      leaseMs: 30_000,
      reachable: true,
      failingSince: 0,
      warnedAt: 0,
      buffer: [],
      delivering: undefined,
      flushTimer: undefined,
      flushDue: 0,
      heartbeatTimer: undefined,
      heartbeating: undefined,
      leasing: undefined,
      kick: new AbortController(),
    }));
    this.byIndex = new Map(this.links.map((l) => [l.index, l]));
    this.pool = new Piscina<ChunkTask, ChunkResult>({
      filename: new URL('./hash-thread.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: 60_000,
    });
  }

  start(): void {
    this.rate = calibrate();
    this.logger.info('worker started', {
      threads: this.threads,
      managers: this.links.map((l) => l.index),
      hashRate: Math.round(this.rate),
      // A machine without the native addon hashes in JavaScript, slower: worth seeing in its log.
      hashBackend: HASH_BACKEND,
      idleTimeoutMs: this.config.idleTimeoutMs,
      noManagerTimeoutMs: this.config.noManagerTimeoutMs,
      maxLifetimeMs: this.config.maxLifetimeMs,
    });
    const limits = [this.config.idleTimeoutMs, this.config.noManagerTimeoutMs, this.config.maxLifetimeMs || Infinity];
    this.ticker = setInterval(() => this.tick(), Math.max(20, Math.min(1_000, Math.min(...limits) / 10)));
    for (const link of this.links) {
      void this.heartbeat(link);
      link.leasing = this.leaseLoop(link).catch((err: unknown) => this.logger.error('lease loop crashed', { manager: link.index, err: err as Error }));
    }
  }

  close(): Promise<void> {
    return this.stop('signal', true);
  }

  stats(): WorkerStats {
    return {
      workerId: this.workerId,
      held: this.held.size,
      running: this.activeJobs - this.queuedJobs,
      undelivered: this.undelivered,
      delivered: this.delivered,
      hashRate: this.rate,
      managers: this.links.map((l) => ({ index: l.index, url: l.client.url, reachable: l.reachable })),
    };
  }

  // --- Leasing ---

  private async leaseLoop(link: Link): Promise<void> {
    const stop = this.leaseStop.signal;
    while (!stop.aborted) {
      if (!this.ask()) {
        await this.changes.wait(stop);
        continue;
      }
      const kick = link.kick.signal;
      /** An empty answer that came back at once (a closing manager, or one that does not long-poll). */
      let emptyAtOnce = false;
      try {
        // The answer is taken in inside the attempt: p-retry drops a result when its signal fires meanwhile.
        await pRetry(
          async () => {
            const ask = this.ask();
            if (!ask) return;
            const sentAt = Date.now();
            const res = await link.client.lease(
              { workerId: this.workerId, max: ask.max, maxIterations: ask.maxIterations, waitMs: this.config.leaseWaitMs },
              { signal: stop },
            );
            this.answered(link);
            link.leaseMs = res.leaseMs;
            if (res.jobs.length > 0) this.took(link, res.jobs, res.leaseMs);
            else emptyAtOnce = Date.now() - sentAt < Math.min(EMPTY_PAUSE_MS, this.config.leaseWaitMs / 2);
          },
          {
            ...BACKOFF,
            retries: Infinity,
            signal: AbortSignal.any([stop, kick]),
            onFailedAttempt: ({ error, attemptNumber }) => {
              if (!stop.aborted && !kick.aborted) this.failed(link, 'lease', error, attemptNumber);
            },
          },
        );
      } catch (err) {
        if (stop.aborted || kick.aborted) continue;
        // Not a call failure (those are retried): a bug. Log it and do not spin.
        this.logger.error('lease loop error', { manager: link.index, err: err as Error });
        await sleep(1_000, stop);
      }
      // Never spin on a manager that answers "nothing" without waiting.
      if (emptyAtOnce) await sleep(EMPTY_PAUSE_MS * (1 + Math.random()), stop);
    }
  }

  private ask(): { max: number; maxIterations: number } | null {
    return leaseAsk({
      rate: this.rate,
      threads: this.threads,
      heldJobs: this.activeJobs,
      heldWork: this.activeWork,
      queuedJobs: this.queuedJobs,
      runningChunks: this.runningChunks,
      undelivered: this.undelivered,
      managers: this.links.length,
    });
  }

  private took(from: Link, jobs: LeasedJob[], leaseMs: number): void {
    const deadline = Date.now() + leaseMs;
    const ids: number[] = [];
    for (const j of jobs) {
      const have = this.held.get(j.id);
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
        link: this.byIndex.get(ownerOf(j.id)) ?? from,
        deadline,
        state: 'queued',
        result: '',
      };
      this.held.set(job.id, job);
      this.queue.push(job);
      this.queuedJobs++;
      this.queuedWork += job.work;
      this.activeJobs++;
      this.activeWork += job.work;
      ids.push(job.id);
    }
    this.lastBusyAt = Date.now();
    this.logger.debug('leased', { manager: from.index, count: ids.length, jobIds: ids });
    this.pump();
  }

  // --- Hashing ---

  private pump(): void {
    while (this.runningChunks < this.threads && this.queuedJobs > 0 && !this.hardStop.signal.aborted) {
      const chunk = takeChunk(this.queue, chunkTarget(this.rate, this.queuedWork, this.threads), (j) => j.state !== 'queued');
      if (chunk.length === 0) break;
      this.run(chunk);
    }
  }

  private run(chunk: HeldJob[]): void {
    this.runningChunks++;
    for (const j of chunk) {
      j.state = 'running';
      this.queuedJobs--;
      this.queuedWork -= j.work;
    }
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
              this.finished(job, result);
            } else if (job.state === 'running') {
              const message = out.errors.find((e) => e.index === i)?.message ?? 'no result';
              this.logger.error('job could not be hashed; giving it up', { jobId: job.id, error: message });
              this.drop(job);
            }
          }
          if (iterations >= MIN_SAMPLE_ITERATIONS && out.ms > 1) this.rate = 0.8 * this.rate + 0.2 * (iterations / (out.ms / 1000));
        },
        (err: unknown) => {
          const mine = chunk.filter((j) => j.state === 'running');
          if (mine.length === 0 || this.hardStop.signal.aborted) return;
          // A thread died on these jobs: give them up; their leases expire and the
          // manager counts the attempt (a poison job ends up failed there).
          this.logger.error('hashing failed; giving the jobs up', { jobIds: mine.map((j) => j.id), err: err as Error });
          for (const j of mine) this.drop(j);
        },
      )
      .finally(() => {
        this.runningChunks--;
        this.pump();
        this.changes.notify();
      });
  }

  private finished(job: HeldJob, result: string): void {
    if (job.state !== 'running') return; // lost meanwhile
    job.state = 'done';
    job.result = result;
    job.abort = undefined;
    this.activeJobs--;
    this.activeWork -= job.work;
    this.undelivered++;
    this.logger.debug('job done', { jobId: job.id, iterations: job.iterations });
    job.link.buffer.push(job);
    this.flushSoon(job.link);
  }

  /** Forgets a job (lost, rejected, expired, failed): it is no longer worked on, reported or heartbeated. */
  private drop(job: HeldJob): void {
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
        this.activeWork -= job.work;
        job.abort?.abort(new Error('lease lost'));
        break;
      case 'done':
        this.undelivered--;
        break;
    }
    job.state = 'gone';
    job.data = '';
    job.result = '';
    this.held.delete(job.id);
    if (this.held.size === 0) this.lastBusyAt = Date.now();
    this.changes.notify();
  }

  // --- Delivering results ---

  private flushSoon(link: Link): void {
    if (link.delivering || this.hardStop.signal.aborted) return; // the running delivery takes them
    const delay = flushDelay(link.buffer.length, this.queuedJobs, this.config.resultBatchMs);
    const due = Date.now() + delay;
    if (link.flushTimer && link.flushDue <= due) return;
    clearTimeout(link.flushTimer);
    link.flushDue = due;
    link.flushTimer = setTimeout(() => {
      link.flushTimer = undefined;
      this.deliver(link);
    }, delay);
  }

  private deliver(link: Link): void {
    if (link.delivering) return;
    link.delivering = this.deliveryLoop(link)
      .catch((err: unknown) => this.logger.error('delivery loop crashed', { manager: link.index, err: err as Error }))
      .finally(() => {
        link.delivering = undefined;
        if (link.buffer.some((j) => j.state === 'done')) this.flushSoon(link);
      });
  }

  private async deliveryLoop(link: Link): Promise<void> {
    const stop = this.hardStop.signal;
    while (!stop.aborted) {
      link.buffer = link.buffer.filter((j) => j.state === 'done');
      if (link.buffer.length === 0) return;
      const kick = link.kick.signal;
      try {
        await pRetry(
          async () => {
            const batch = link.buffer.filter((j) => j.state === 'done').slice(0, MAX_COMPLETE_BATCH);
            if (batch.length === 0) return;
            const res = await link.client.complete(
              { workerId: this.workerId, results: batch.map((j) => ({ id: j.id, result: j.result })) },
              { signal: stop },
            );
            this.answered(link);
            this.completed(link, batch, res);
          },
          {
            ...BACKOFF,
            retries: Infinity,
            signal: AbortSignal.any([stop, kick]),
            onFailedAttempt: ({ error, attemptNumber }) => {
              if (!stop.aborted && !kick.aborted) this.failed(link, 'complete', error, attemptNumber);
            },
          },
        );
      } catch (err) {
        if (stop.aborted || kick.aborted) continue;
        this.logger.error('delivery error', { manager: link.index, err: err as Error });
        await sleep(1_000, stop);
      }
    }
  }

  private completed(link: Link, batch: HeldJob[], res: CompleteResponse): void {
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
      this.drop(j);
    }
    link.buffer = link.buffer.filter((j) => j.state === 'done');
    this.logger.debug('results delivered', { manager: link.index, accepted: n, rejected: res.rejected.length });
  }

  // --- Heartbeats ---

  private heartbeat(link: Link): Promise<void> {
    if (this.hardStop.signal.aborted) return Promise.resolve();
    const p = (async () => {
      const ids: number[] = [];
      for (const j of this.held.values()) if (j.link === link) ids.push(j.id);
      const sentAt = Date.now();
      try {
        const res = await link.client.heartbeat(
          {
            workerId: this.workerId,
            ids,
            hashRate: Math.round(this.rate),
            threads: this.threads,
            busy: this.held.size,
            ...(this.config.instanceId === undefined ? {} : { instanceId: this.config.instanceId }),
          },
          { signal: this.hardStop.signal },
        );
        this.answered(link);
        link.leaseMs = res.leaseMs;
        for (const id of res.extended) {
          const j = this.held.get(id);
          if (j && j.link === link) j.deadline = sentAt + res.leaseMs;
        }
        for (const id of res.lost) {
          const j = this.held.get(id);
          if (!j || j.link !== link) continue;
          // A done job may just have been accepted by a complete racing this heartbeat.
          if (j.state === 'done') this.logger.debug('lease gone while delivering; dropped', { jobId: id, manager: link.index });
          else this.logger.info('lease lost; job dropped', { jobId: id, manager: link.index, state: j.state });
          this.drop(j);
        }
      } catch (err) {
        if (!this.hardStop.signal.aborted) this.failed(link, 'heartbeat', err, 1);
      }
    })().finally(() => {
      link.heartbeating = undefined;
      if (this.hardStop.signal.aborted) return;
      link.heartbeatTimer = setTimeout(() => void this.heartbeat(link), Math.max(50, link.leaseMs / 3));
    });
    link.heartbeating = p;
    return p;
  }

  // --- Reachability ---

  private answered(link: Link): void {
    const now = Date.now();
    this.lastAnswerAt = now;
    if (link.reachable) return;
    link.reachable = true;
    const fields = { manager: link.index, url: link.client.url, failedForMs: now - link.failingSince };
    if (now - link.failingSince >= 1_000) this.logger.info('manager answering again', fields);
    else this.logger.debug('manager answering again', fields);
    // Retry what was backing off now, not after the current wait.
    const kick = link.kick;
    link.kick = new AbortController();
    kick.abort(new Error('manager is back'));
  }

  /** A call to `link` failed (no answer, or an error answer): log the first failure of a run loudly. */
  private failed(link: Link, call: string, error: unknown, attempt: number): void {
    const now = Date.now();
    const fields = { manager: link.index, call, attempt, code: (error as { code?: string }).code, err: error as Error };
    if (link.reachable) {
      link.reachable = false;
      link.failingSince = now;
    }
    if (now - link.warnedAt >= FAILURE_LOG_MS) {
      link.warnedAt = now;
      this.logger.warn('manager calls failing; backing off', fields);
    } else {
      this.logger.debug('manager calls still failing', fields);
    }
  }

  // --- Time: expiry, idle, no manager, lifetime ---

  private tick(): void {
    const now = Date.now();
    // Leases that ran out (their manager did not extend them): someone else will run these.
    for (const j of this.held.values()) {
      if ((j.state === 'queued' || j.state === 'done') && now > j.deadline) {
        this.logger.warn(j.state === 'done' ? 'lease ran out before the result was delivered; dropped' : 'lease ran out before the job started; dropped', {
          jobId: j.id,
          manager: j.link.index,
        });
        this.drop(j);
      }
    }
    if (this.held.size > 0 || this.runningChunks > 0) this.lastBusyAt = now;
    if (now - this.lastAnswerAt >= this.config.noManagerTimeoutMs) {
      if (this.stopping) this.drainStop.abort();
      else void this.stop('no-manager', false);
      return;
    }
    if (this.stopping) return;
    if (this.config.maxLifetimeMs > 0 && now - this.startedAt >= this.config.maxLifetimeMs) {
      void this.stop('lifetime', true);
    } else if (this.held.size === 0 && this.runningChunks === 0 && now - this.lastBusyAt >= this.config.idleTimeoutMs) {
      void this.stop('idle', false);
    }
  }

  // --- Stopping ---

  private stop(reason: ExitReason, drain: boolean): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.shutdown(reason, drain);
      } catch (err) {
        this.logger.error('worker did not stop cleanly', { err: err as Error });
      }
      try {
        await this.opts.onExit?.(reason);
      } catch (err) {
        this.logger.error('onExit failed', { err: err as Error });
      }
      this.resolveDone({ reason });
    })();
    return this.stopping;
  }

  private async shutdown(reason: ExitReason, drain: boolean): Promise<void> {
    this.logger.info('worker stopping', { reason, held: this.held.size, undelivered: this.undelivered });
    this.leaseStop.abort(new Error('worker stopping'));
    this.changes.notify();
    if (drain) await this.drain();
    this.hardStop.abort(new Error('worker stopped'));
    clearInterval(this.ticker);
    for (const l of this.links) {
      clearTimeout(l.flushTimer);
      clearTimeout(l.heartbeatTimer);
      l.kick.abort(new Error('worker stopped'));
    }
    await Promise.allSettled(this.links.flatMap((l) => [l.leasing, l.delivering, l.heartbeating]).filter((p) => p !== undefined));
    await this.pool.destroy().catch((err: unknown) => this.logger.warn('thread pool did not stop cleanly', { err: err as Error }));
    await Promise.all(this.links.map((l) => l.client.close()));
    if (this.held.size > 0) {
      this.logger.warn('stopped holding jobs; their leases will expire and they will run elsewhere', { jobIds: [...this.held.keys()] });
    }
    this.logger.info('worker stopped', { reason, delivered: this.delivered, uptimeMs: Date.now() - this.startedAt });
  }

  /** Waits until everything held is finished and delivered (or dropped), within drainTimeoutMs. */
  private async drain(): Promise<void> {
    const limit = AbortSignal.any([AbortSignal.timeout(this.opts.drainTimeoutMs ?? 30_000), this.drainStop.signal]);
    while (this.held.size > 0 && !limit.aborted) {
      for (const l of this.links) if (l.buffer.length > 0) this.deliver(l);
      await this.changes.wait(limit);
    }
    if (this.held.size > 0) this.logger.warn('drain cut short', { held: this.held.size, undelivered: this.undelivered });
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
