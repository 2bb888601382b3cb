import { z } from 'zod';
import { body, int, safeInt } from './fields.js';
import { jobView, pulledJob } from './jobs.js';
import { receipt } from './receipt.js';

/** PUT /enqueue with one job. */
export const enqueued = z.object({ id: safeInt });
/** PUT /enqueue with an array, a staged batch's commit, POST /jobs/retry. */
export const idList = z.object({ ids: z.array(safeInt) });

/** Most parts in one staged batch (at 10,000 jobs a part, a billion jobs). */
export const MAX_PARTS = 100_000;
export const batchCreated = z.object({ batch: z.string().min(1) });
export const batchPartStaged = z.object({ batch: z.string(), part: safeInt, count: safeInt });
export const batchCommitRequest = body({ parts: int(1, MAX_PARTS) });

export const pulledJobs = z.array(pulledJob);
export const pullLeaseResponse = z.object({ receipt: z.string().nullable(), leaseMs: z.int().positive(), results: pulledJobs });
/** POST /pullCompleted/ack | release: the receipt, read as its parts. */
export const settleReceiptRequest = body({ receipt });
/** How many results an acknowledgement or release settled (public and internal alike). */
export const settled = z.object({ count: z.int().nonnegative() });

export const jobList = z.object({ jobs: z.array(jobView) });
export const logLines = z.object({ lines: z.array(z.string()) });

export const workerView = z.object({
  workerId: z.string(),
  instanceId: z.string().nullable(),
  /** When this manager first heard from it. */
  firstSeenAt: z.string().optional(),
  lastSeenAt: z.string(),
  /** Results it delivered to this manager. */
  jobsDone: z.number().optional(),
  /** Jobs of this manager it holds a lease on now (fresher than `busy`, which is as of its last heartbeat). */
  holding: z.number().optional(),
  busy: z.number(),
  threads: z.number(),
  hashRate: z.number().nullable(),
});
export type WorkerView = z.infer<typeof workerView>;

export const managerEvent = z.object({ at: z.string(), message: z.string() });
export type ManagerEvent = z.infer<typeof managerEvent>;

export const managerStatus = z.object({
  manager: z.object({ index: z.number(), url: z.string(), leader: z.boolean(), startedAt: z.string(), version: z.string() }),
  queue: z.object({
    queued: z.number(),
    running: z.number(),
    completed: z.number(),
    /** Results handed out and not yet confirmed by their reader (they return if never confirmed). Managers before receipts did not report it. */
    delivering: z.number().default(0),
    failed: z.number(),
    oldestQueuedAgeMs: z.number().nullable(),
    /** The job first in line (its wait is oldestQueuedAgeMs). */
    oldestQueuedId: z.number().nullable().optional(),
    queuedIterations: z.number(),
  }),
  totals: z.object({ enqueued: z.number(), completed: z.number(), pulled: z.number(), leaseExpiries: z.number(), failed: z.number() }),
  /** Jobs completed per second over the last minute. */
  throughput: z.number(),
  workers: z.array(workerView),
  healthy: z.boolean(),
  /** What this manager saw happen lately, newest last: expired leases, failed jobs, autoscaler actions. */
  events: z.array(managerEvent).default([]),
});
export type ManagerStatus = z.infer<typeof managerStatus>;

/** One point of a manager's recent past, for the dashboard's charts. */
export const sample = z.object({
  /** Start of the interval, a multiple of the interval (so managers' samples line up). */
  at: z.number(),
  queued: z.number(),
  running: z.number(),
  completedPerSec: z.number(),
  workers: z.number(),
});
export type Sample = z.infer<typeof sample>;

/** One manager's part of the dashboard: GET /dashboard/data?local=1. */
export const dashboardPart = z.object({ status: managerStatus, history: z.array(sample) });
export type DashboardPart = z.infer<typeof dashboardPart>;

/** GET /healthz (200, or 503 with the same shape); open, since it carries whatever the manager knows of itself. */
export const health = z.looseObject({ ok: z.boolean(), index: z.number().optional(), leader: z.boolean().optional() });
export type Health = z.infer<typeof health>;

/** Every non-2xx answer. */
export const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
