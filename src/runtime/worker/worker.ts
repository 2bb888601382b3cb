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
 * - Results are batched per owner manager (flushed when many are waiting
 *   or nothing else is held here, after a few ms while other jobs still
 *   run, else within 250 ms),
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
 *
 * This file is the composition; each responsibility has its module: the
 * ledger of held jobs (held-jobs.ts), leasing (leasing.ts), the threads
 * (dispatch.ts), delivery (deliveries.ts), lease renewal (heartbeats.ts),
 * reachability (manager-link.ts) and the timed exits (exits.ts), all on one
 * Clock passed in.
 */
import { hostname } from 'node:os';
import { ManagerClient } from '../../client/manager-client.js';
import { HASH_BACKEND } from '../../job/hash.js';
import type { WorkerConfig } from '../../settings/worker.js';
import { createLogger, type Logger } from '../../log.js';
import { ownerOf, type LeasedJob } from '../../protocol/index.js';
import { managerIdentity } from '../../protocol/tls-identity.js';
import { Changes } from './changes.js';
import { realClock, timeoutSignal, type Clock } from './clock.js';
import { Deliveries } from './deliveries.js';
import { Dispatch } from './dispatch.js';
import { ExitWatch, type TimedExit } from './exits.js';
import { Heartbeats } from './heartbeats.js';
import { HeldJobs } from './held-jobs.js';
import { leaseLoop } from './leasing.js';
import { ManagerLink } from './manager-link.js';
import { leaseAsk } from './plan.js';

export type ExitReason = 'idle' | 'no-manager' | 'lifetime' | 'signal';

export interface WorkerOptions {
  logger?: Logger;
  /** Called once when the worker has stopped (before `done` resolves), e.g. to stop the machine. */
  onExit?: (reason: ExitReason) => void | Promise<void>;
  /** Longest close() or the lifetime exit spend finishing and delivering what is held. @default 30000 */
  drainTimeoutMs?: number;
  /** @default the wall clock */
  clock?: Clock;
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

class Worker {
  readonly workerId: string;
  readonly done: Promise<{ reason: ExitReason }>;
  private resolveDone!: (v: { reason: ExitReason }) => void;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly links: ManagerLink[];
  private readonly byIndex: Map<number, ManagerLink>;
  private readonly changes = new Changes();
  private readonly held: HeldJobs;
  private readonly dispatch: Dispatch;
  private readonly deliveries: Deliveries;
  private readonly heartbeats: Heartbeats;
  private readonly exits: ExitWatch;
  private leasing: Promise<void>[] = [];
  /** Stops the lease loops. */
  private readonly leaseStop = new AbortController();
  /** Stops everything else (heartbeats, deliveries, threads). */
  private readonly hardStop = new AbortController();
  /** Ends a drain early (no manager answers any more). */
  private readonly drainStop = new AbortController();
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: WorkerConfig,
    private readonly opts: WorkerOptions,
  ) {
    // The provider's id when there is one, so `dynwork status`, the logs and a job's attempts name a worker alike.
    this.workerId = config.workerId ?? config.instanceId ?? `${hostname()}-${process.pid}`;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.logger = (opts.logger ?? createLogger({}, { level: config.logLevel })).child({ role: 'worker', workerId: this.workerId });
    const clock = (this.clock = opts.clock ?? realClock);
    this.startedAt = clock.now();
    this.links = config.managers.map(
      (endpoint) =>
        new ManagerLink(
          endpoint.index,
          new ManagerClient({
            endpoint,
            token: config.workerToken,
            timeoutMs: config.requestTimeoutMs,
            logger: this.logger,
            ...(config.ca ? { pin: { ca: config.ca, identity: managerIdentity(config.cluster, endpoint.index) } } : {}),
          }),
          clock,
          this.logger,
        ),
    );
    this.byIndex = new Map(this.links.map((l) => [l.index, l]));
    const stop = this.hardStop.signal;
    this.held = new HeldJobs(clock, this.changes, this.logger);
    this.deliveries = new Deliveries(this.held, this.workerId, config.resultBatchMs, clock, stop, this.logger);
    this.dispatch = new Dispatch(config.threads, this.held, (job) => this.deliveries.add(job), this.changes, stop, this.logger, process.env.DYNWORK_HASH);
    this.heartbeats = new Heartbeats(this.held, { workerId: this.workerId, instanceId: config.instanceId, threads: config.threads, hashRate: () => this.dispatch.rate }, clock, stop, this.logger);
    this.exits = new ExitWatch(config, {
      held: this.held,
      runningChunks: () => this.dispatch.runningChunks,
      lastAnswerAt: () => Math.max(...this.links.map((l) => l.lastAnswerAt)),
      firstAnswerAt: () => this.links.reduce<number | null>((first, l) => (l.firstAnswerAt === null ? first : Math.min(first ?? Infinity, l.firstAnswerAt)), null),
      stopping: () => this.stopping !== undefined,
      onExit: (reason) => this.timedExit(reason),
      clock,
    });
  }

  start(): void {
    this.dispatch.calibrate();
    this.logger.info('worker started', {
      threads: this.config.threads,
      managers: this.links.map((l) => l.index),
      hashRate: Math.round(this.dispatch.rate),
      // A machine without the native addon hashes in JavaScript, slower: worth seeing in its log.
      hashBackend: HASH_BACKEND,
      hashPath: this.dispatch.path,
      idleTimeoutMs: this.config.idleTimeoutMs,
      noManagerTimeoutMs: this.config.noManagerTimeoutMs,
      maxLifetimeMs: this.config.maxLifetimeMs,
    });
    this.exits.start();
    const lease = {
      workerId: this.workerId,
      leaseWaitMs: this.config.leaseWaitMs,
      ask: () => this.ask(),
      took: (from: ManagerLink, jobs: LeasedJob[], leaseMs: number) => this.took(from, jobs, leaseMs),
      changes: this.changes,
      clock: this.clock,
      logger: this.logger,
    };
    for (const link of this.links) {
      this.heartbeats.start(link);
      this.leasing.push(leaseLoop(link, lease, this.leaseStop.signal).catch((err: unknown) => this.logger.error('lease loop crashed', { manager: link.index, err: err as Error })));
    }
  }

  close(): Promise<void> {
    return this.stop('signal', true);
  }

  stats(): WorkerStats {
    return {
      workerId: this.workerId,
      held: this.held.size,
      running: this.held.activeJobs - this.held.queuedJobs,
      undelivered: this.held.undelivered,
      delivered: this.deliveries.delivered,
      hashRate: this.dispatch.rate,
      managers: this.links.map((l) => ({ index: l.index, url: l.client.url, reachable: l.reachable })),
    };
  }

  private ask(): { max: number; maxIterations: number } | null {
    return leaseAsk({
      rate: this.dispatch.rate,
      threads: this.config.threads,
      heldJobs: this.held.activeJobs,
      heldWork: this.held.activeWork,
      queuedJobs: this.held.queuedJobs,
      runningChunks: this.dispatch.runningChunks,
      undelivered: this.held.undelivered,
      managers: this.links.length,
      lanes: this.dispatch.lanes,
    });
  }

  private took(from: ManagerLink, jobs: LeasedJob[], leaseMs: number): void {
    const ids = this.held.add(from, jobs, leaseMs, (id) => this.byIndex.get(ownerOf(id)));
    this.logger.debug('leased', { manager: from.index, count: ids.length, jobIds: ids });
    this.dispatch.pump();
  }

  private timedExit(reason: TimedExit): void {
    // No manager answers any more: a drain that is waiting to deliver would wait in vain.
    if (this.stopping) this.drainStop.abort();
    else void this.stop(reason, reason === 'lifetime');
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
    this.logger.info('worker stopping', { reason, held: this.held.size, undelivered: this.held.undelivered });
    this.leaseStop.abort(new Error('worker stopping'));
    this.changes.notify();
    if (drain) await this.drain();
    this.hardStop.abort(new Error('worker stopped'));
    this.exits.stop();
    for (const l of this.links) l.stop();
    await Promise.allSettled([...this.leasing, this.deliveries.settled(), this.heartbeats.settled()]);
    await this.dispatch.destroy().catch((err: unknown) => this.logger.warn('thread pool did not stop cleanly', { err: err as Error }));
    await Promise.all(this.links.map((l) => l.client.close()));
    if (this.held.size > 0) {
      this.logger.warn('stopped holding jobs; their leases will expire and they will run elsewhere', { jobIds: this.held.ids() });
    }
    this.logger.info('worker stopped', { reason, delivered: this.deliveries.delivered, uptimeMs: this.clock.now() - this.startedAt });
  }

  /** Waits until everything held is finished and delivered (or dropped), within drainTimeoutMs. */
  private async drain(): Promise<void> {
    const timeout = timeoutSignal(this.clock, this.opts.drainTimeoutMs ?? 30_000);
    const limit = AbortSignal.any([timeout.signal, this.drainStop.signal]);
    while (this.held.size > 0 && !limit.aborted) {
      this.deliveries.flushAll();
      await this.changes.wait(limit);
    }
    timeout.cancel();
    if (this.held.size > 0) this.logger.warn('drain cut short', { held: this.held.size, undelivered: this.held.undelivered });
  }
}
