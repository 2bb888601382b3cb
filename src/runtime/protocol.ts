/**
 * The wire contract between clients, managers, peers and workers.
 *
 * Public API (client token, `Authorization: Bearer <clientToken>`):
 *   PUT  /enqueue?iterations=N   body: form `data=…` | JSON {"data": "…"} | text/plain
 *                                → 200 {"id": number}
 *                                body: JSON array [{data, iterations}, …] → 200 {"ids": number[]}
 *
 *   Staged upload, for batches of any size, all or nothing (what `enqueue --file` uses past one part):
 *   POST /enqueue/batches                       → 201 {"batch": string}   (a random id)
 *   PUT  /enqueue/batches/:batch/:part[?iterations=N]
 *                                body: JSON array like a batch PUT /enqueue, checked the same way
 *                                → 200 {"batch", "part", "count"}
 *        Parts are numbered 1…N. A part sent again replaces the earlier copy (never doubles), so
 *        a part whose answer was lost may simply be sent again. Nothing is queued yet.
 *   POST /enqueue/batches/:batch/commit  body: {"parts": N}
 *                                → 200 {"ids": number[]}  all staged jobs, part then line order, in ONE transaction
 *        Committing again answers the same ids (nothing is enqueued twice). 409 when a part of 1…N is
 *        missing or one outside it is staged; 404 for an unknown batch. A batch not committed within
 *        an hour is dropped. Errors about one job start "job <i>: " (i counts from 0 within the part).
 *
 *   POST /pullCompleted?top=N    → 200 [{"id", "result"}]  (oldest completion first, fills from peers;
 *                                  pulled once the answer went out whole, kept when the reader hung up first)
 *   POST /pullCompleted/lease?top=N&leaseMs=M → 200 {"receipt": string|null, "leaseMs", "results": [{"id", "result"}]}
 *                                (held for the reader, not pulled until acknowledged; back to completed
 *                                 when released or after leaseMs. Same waitMs/local as /pullCompleted)
 *   POST /pullCompleted/ack      {"receipt"} → 200 {"count"}  (pulled now; idempotent, any manager routes it)
 *   POST /pullCompleted/release  {"receipt"} → 200 {"count"}  (completed again at once)
 *   GET  /jobs/:id               → 200 JobView | 404
 *   GET  /status                 → 200 ManagerStatus   (client or worker token)
 *   GET  /metrics                → Prometheus text     (client or worker token)
 *   GET  /healthz                → 200 {"ok": true, …} | 503 (no auth)
 *
 * Internal API (worker token only; a client token gets 403):
 *   POST /internal/lease      LeaseRequest     → LeaseResponse   (long-poll up to waitMs)
 *   POST /internal/complete   CompleteRequest  → CompleteResponse
 *   POST /internal/heartbeat  HeartbeatRequest → HeartbeatResponse
 *   POST /internal/reserve?top=N&leaseMs=M     → {"token", "results"} (this manager's own results, held)
 *   POST /internal/ack | /internal/release {"token"} → {"count"}
 *
 * Errors everywhere: {"error": {"code": string, "message": string}}.
 */

/** A job as submitted: data (UTF-8 text) and how many times to hash it. */
export interface NewJob {
  data: string;
  iterations: number;
}

export interface PulledJob {
  id: number;
  result: string;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'pulled' | 'failed' | 'cancelled';

/** One lease of a job by a worker, and how it ended. */
export interface JobAttempt {
  attempt: number;
  /** The worker's id: the same in `dynwork status`, the worker's log lines and here. */
  workerId: string;
  startedAt: string;
  endedAt: string | null;
  /** `running`, `completed`, `lease expired`, `lease expired; job failed after N attempts`, `cancelled`. */
  outcome: string;
}

export interface JobView {
  id: number;
  status: JobStatus;
  iterations: number;
  /** Leases so far, retries included. */
  attempts: number;
  enqueuedAt: string;
  completedAt: string | null;
  pulledAt: string | null;
  result: string | null;
  /** The manager that owns the job. */
  manager?: number;
  /** Who holds the job now and until when (running jobs). */
  lease?: { workerId: string; expiresAt: string } | null;
  /** Why a failed or cancelled job ended. */
  error?: string | null;
  /** When a failed or cancelled job ended. */
  endedAt?: string | null;
  /** Every attempt, oldest first (GET /jobs/:id; not in lists). */
  history?: JobAttempt[];
}

export interface LeasedJob {
  id: number;
  data: string;
  iterations: number;
}

export interface LeaseRequest {
  workerId: string;
  /** Most jobs to hand out in this call. */
  max: number;
  /** Stop adding jobs once their summed iterations reach this (at least one job is always given). */
  maxIterations?: number;
  /** Long-poll: how long the manager may hold the request open when the queue is empty. */
  waitMs?: number;
}

export interface LeaseResponse {
  jobs: LeasedJob[];
  /** The lease length; renew by heartbeat before it runs out. */
  leaseMs: number;
}

export interface CompleteRequest {
  workerId: string;
  results: PulledJob[];
}

export interface CompleteResponse {
  /** Ids whose result was recorded now. */
  accepted: number[];
  /** Ids whose lease this worker no longer holds (expired, re-leased, already completed): drop them. */
  rejected: number[];
}

export interface HeartbeatRequest {
  workerId: string;
  /** Ids of this manager's jobs the worker still holds (running or buffered). */
  ids: number[];
  /** Measured iterations per second per thread, when known. */
  hashRate?: number;
  threads: number;
  /** Jobs the worker is running or holding right now (all managers). */
  busy: number;
  /** Provider's id for this worker (pid for local, instance id for aws), when known. */
  instanceId?: string;
}

export interface HeartbeatResponse {
  extended: number[];
  /** Held ids this worker lost (expired or done elsewhere): stop working on them. */
  lost: number[];
  leaseMs: number;
}

export interface WorkerView {
  workerId: string;
  instanceId: string | null;
  /** When this manager first heard from it. */
  firstSeenAt?: string;
  lastSeenAt: string;
  /** Results it delivered to this manager. */
  jobsDone?: number;
  /** Jobs of this manager it holds a lease on now (fresher than `busy`, which is as of its last heartbeat). */
  holding?: number;
  busy: number;
  threads: number;
  hashRate: number | null;
}

export interface ManagerStatus {
  manager: { index: number; url: string; leader: boolean; startedAt: string; version: string };
  queue: {
    queued: number;
    running: number;
    completed: number;
    /** Results handed out and not yet confirmed by their reader (they return if never confirmed). */
    delivering: number;
    failed: number;
    oldestQueuedAgeMs: number | null;
    /** The job first in line (its wait is oldestQueuedAgeMs). */
    oldestQueuedId?: number | null;
    queuedIterations: number;
  };
  totals: { enqueued: number; completed: number; pulled: number; leaseExpiries: number; failed: number };
  /** Jobs completed per second over the last minute. */
  throughput: number;
  workers: WorkerView[];
  healthy: boolean;
  /** What this manager saw happen lately, newest last: expired leases, failed jobs, autoscaler actions. */
  events: ManagerEvent[];
}

/** One point of a manager's recent past, for the dashboard's charts. */
export interface Sample {
  /** Start of the interval, a multiple of the interval (so managers' samples line up). */
  at: number;
  queued: number;
  running: number;
  completedPerSec: number;
  workers: number;
}

/** One manager's part of the dashboard: GET /dashboard/data?local=1. */
export interface DashboardPart {
  status: ManagerStatus;
  history: Sample[];
}

export interface ManagerEvent {
  at: string;
  message: string;
}

/**
 * Ids carry their owner: id = seq * ID_STRIDE + managerIndex (managerIndex in 1..999),
 * so `17001` is job 17 of manager 1. Safe integers up to ~9e12 jobs per manager.
 */
export const ID_STRIDE = 1000;

export function makeJobId(seq: number, managerIndex: number): number {
  return seq * ID_STRIDE + managerIndex;
}

export function ownerOf(id: number): number {
  return id % ID_STRIDE;
}

export function seqOf(id: number): number {
  return Math.floor(id / ID_STRIDE);
}
