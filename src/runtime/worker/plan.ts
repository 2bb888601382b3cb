/**
 * The worker's sizing decisions, kept pure so they can be read (and tested)
 * apart from the I/O: how much to ask a manager for, and how to cut the local
 * queue into messages for the hashing threads.
 */

/**
 * A worker aims to hold about this much work per thread (leased, not yet
 * done), and at least a chain for every SIMD lane. Managers cap each worker
 * at its share of their backlog (manager/lease-shares.ts), so a long hold no
 * longer lets the first worker to ask take everything: it means fewer lease
 * and completion calls, and a batch that ends with chains in every lane
 * (heavy rounds ran 8–15 % faster than with a quarter second, and the
 * managers spent 40 % less CPU: the closing note of #14, session 8).
 */
export const HOLD_SECONDS = 2;
/**
 * Work is topped up once this share of the hold has run down, so a worker on
 * heavy jobs asks a few times a second, not after every finished job.
 */
export const REFILL_SHARE = 0.5;
/** Most jobs asked for in one lease call (a thread hashes 25,000 jobs of 1,000 steps a second: fewer, bigger calls). */
export const LEASE_BATCH = 1024;
/** Most jobs held (queued here or running) at once, whatever their size. */
export const MAX_HELD_JOBS = 4096;
/** Most finished results waiting for their manager before leasing stops. */
export const MAX_UNDELIVERED = 20_000;
/**
 * A message to a thread carries about this much work, and the thread hands
 * back what is unfinished after about this long: a job whose lease is lost
 * stops within it, and the per-message cost stays under 1 %.
 */
export const CHUNK_SECONDS = 0.02;
/** ...and at most this many jobs, and this much data. */
export const MAX_CHUNK_JOBS = 1024;
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;

/** What a job costs, in iterations: its chain plus the first hash over its data (128 bytes ≈ one iteration, generously). */
export function workOf(job: { iterations: number; data: string }): number {
  return job.iterations + Math.ceil(job.data.length / 128);
}

/** What is left of a job: its chain's remaining steps once a thread has started it. */
function workLeft(job: { iterations: number; data: string; progress?: { remaining: number } | null }): number {
  return job.progress ? job.progress.remaining : workOf(job);
}

export interface LeaseState {
  /** Measured iterations per second per thread. */
  rate: number;
  threads: number;
  /** Jobs queued here or running. */
  heldJobs: number;
  /** Their summed work. */
  heldWork: number;
  /** Jobs queued here, not yet handed to a thread. */
  queuedJobs: number;
  /** Chunks running on threads now. */
  runningChunks: number;
  undelivered: number;
  /** Managers being leased from at the same time (the room is shared between them). */
  managers: number;
  /** Chains a thread runs side by side (its hash path's lanes). */
  lanes: number;
}

/**
 * The next lease request's `max` and `maxIterations`, or null when the worker
 * holds enough. About HOLD_SECONDS of work per thread: small jobs come in
 * batches, and a heavy job is not hoarded (a manager gives at least one job
 * per call, so the room is split between the managers and a full worker asks
 * for nothing), topped up when half of it has run down. A thread with nothing
 * to do still gets one job, however big, and so does every empty SIMD lane.
 */
export function leaseAsk(s: LeaseState): { max: number; maxIterations: number } | null {
  const roomJobs = MAX_HELD_JOBS - s.heldJobs;
  if (roomJobs <= 0 || s.undelivered >= MAX_UNDELIVERED) return null;
  const capacity = Math.max(1, Math.round(s.rate * s.threads * HOLD_SECONDS));
  const roomWork = capacity - s.heldWork;
  if (roomWork >= capacity * REFILL_SHARE) {
    return { max: Math.min(LEASE_BATCH, roomJobs), maxIterations: Math.max(1, Math.ceil(roomWork / Math.max(1, s.managers))) };
  }
  // Every lane of every thread wants a chain, however long: an empty lane is a share of the core lost.
  const lanesFree = s.lanes * s.threads - s.heldJobs;
  if (lanesFree > 0 && s.lanes > 1) return { max: Math.min(lanesFree, roomJobs), maxIterations: Number.MAX_SAFE_INTEGER };
  if (s.queuedJobs === 0 && s.runningChunks < s.threads) return { max: 1, maxIterations: 1 };
  return null;
}

/**
 * How much work the next message to a thread should carry: about
 * CHUNK_SECONDS, but no more than an even share of what is queued, so every
 * thread gets some.
 */
export function chunkTarget(rate: number, queuedWork: number, threads: number): number {
  return Math.max(1, Math.min(Math.round(rate * CHUNK_SECONDS), Math.ceil(queuedWork / Math.max(1, threads))));
}

/**
 * Takes the next chunk from the head of `queue` (removing it): jobs together
 * up to `target` work, MAX_CHUNK_JOBS jobs and MAX_CHUNK_BYTES of data, but at
 * least `lanes` jobs when there are that many, however big (the thread stops
 * after its time budget and hands back what is unfinished, so a big job never
 * holds a thread for long, and a lane left empty is a share of the core lost).
 * `skip` entries (jobs dropped while queued) are removed and not returned.
 */
export function takeChunk<T extends { iterations: number; data: string; progress?: { remaining: number } | null }>(queue: T[], target: number, skip: (job: T) => boolean, lanes = 1): T[] {
  const chunk: T[] = [];
  let work = 0;
  let bytes = 0;
  let i = 0;
  for (; i < queue.length; i++) {
    const job = queue[i]!;
    if (skip(job)) continue;
    const w = workLeft(job);
    const full = chunk.length >= lanes && work + w > target;
    if (chunk.length > 0 && (full || chunk.length >= MAX_CHUNK_JOBS || bytes + job.data.length > MAX_CHUNK_BYTES)) break;
    chunk.push(job);
    work += w;
    bytes += job.data.length;
  }
  queue.splice(0, i);
  return chunk;
}

/** Results waiting for one manager that are sent at once, whatever else is going on. */
export const FLUSH_BATCH = 1024;
/** The pause that gathers results of chunks finishing together on several threads into one call. */
export const FLUSH_DELAY_MS = 5;

/**
 * How long results bound for one manager wait before they are sent: at once
 * when many are waiting; up to `busyDelayMs` while more jobs wait on this
 * worker (they will finish soon and join the call); else a moment, for the
 * chunks still running. (Once nothing is held, Deliveries sends at once.)
 */
export function flushDelay(buffered: number, queuedHere: number, busyDelayMs: number): number {
  if (buffered >= FLUSH_BATCH) return 0;
  return queuedHere > 0 ? busyDelayMs : FLUSH_DELAY_MS;
}
