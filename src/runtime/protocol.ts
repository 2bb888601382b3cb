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
 *   POST /pullCompleted?top=N    → 200 [{"id", "result"}]  (oldest completion first, fills from peers)
 *   GET  /jobs/:id               → 200 JobView | 404
 *   GET  /status                 → 200 ManagerStatus   (client or worker token)
 *   GET  /metrics                → Prometheus text     (client or worker token)
 *   GET  /healthz                → 200 {"ok": true, …} | 503 (no auth)
 *
 * Internal API (worker token only; a client token gets 403):
 *   POST /internal/lease      LeaseRequest     → LeaseResponse   (long-poll up to waitMs)
 *   POST /internal/complete   CompleteRequest  → CompleteResponse
 *   POST /internal/heartbeat  HeartbeatRequest → HeartbeatResponse
 *   POST /internal/pull?top=N                  → PulledJob[]      (this manager's own jobs only)
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

export type JobStatus = 'queued' | 'running' | 'completed' | 'pulled' | 'failed';

export interface JobView {
  id: number;
  status: JobStatus;
  iterations: number;
  attempts: number;
  enqueuedAt: string;
  completedAt: string | null;
  pulledAt: string | null;
  result: string | null;
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
  lastSeenAt: string;
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
    failed: number;
    oldestQueuedAgeMs: number | null;
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
