import { z } from 'zod';
import { body, int, list, nonNegative, positive, safeInt, text } from './fields.js';
import { pulledJob } from './jobs.js';
import { receiptToken } from './receipt.js';

/** Most ids or results in one worker call. */
const MAX_IDS = 100_000;

export const leasedJob = z.object({ id: safeInt, data: z.string(), iterations: safeInt.min(1) });
export type LeasedJob = z.infer<typeof leasedJob>;

export const leaseRequest = body({
  workerId: text(),
  /** Most jobs to hand out in this call. */
  max: int(1, 10_000),
  /** Stop adding jobs once their summed iterations reach this (at least one job is always given). */
  maxIterations: int(1, Number.MAX_SAFE_INTEGER).optional(),
  /** Long-poll: how long the manager may hold the request open when the queue is empty. */
  waitMs: int(0, 3_600_000).optional(),
});
export type LeaseRequest = z.infer<typeof leaseRequest>;

export const leaseResponse = z.object({
  jobs: z.array(leasedJob),
  /** The lease length; renew by heartbeat before it runs out. */
  leaseMs: positive,
});
export type LeaseResponse = z.infer<typeof leaseResponse>;

export const completeRequest = body({ workerId: text(), results: list(pulledJob, MAX_IDS, 'results') });
export type CompleteRequest = z.infer<typeof completeRequest>;

export const completeResponse = z.object({
  /** Ids whose result was recorded now. */
  accepted: z.array(safeInt),
  /** Ids whose lease this worker no longer holds (expired, re-leased, already completed): drop them. */
  rejected: z.array(safeInt),
});
export type CompleteResponse = z.infer<typeof completeResponse>;

export const heartbeatRequest = body({
  workerId: text(),
  /** Ids of this manager's jobs the worker still holds (running or buffered). */
  ids: list(safeInt, MAX_IDS, 'integers'),
  /** Measured iterations per second per thread, when known. */
  hashRate: nonNegative.nullish(),
  threads: int(1, 4096),
  /** Jobs the worker is running or holding right now (all managers). */
  busy: int(0, 10_000_000),
  /** Provider's id for this worker (pid for local, instance id for aws), when known. */
  instanceId: text().optional(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;

export const heartbeatResponse = z.object({
  extended: z.array(safeInt),
  /** Held ids this worker lost (expired or done elsewhere): stop working on them. */
  lost: z.array(safeInt),
  leaseMs: positive,
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;

/** POST /internal/logs: a worker's new log lines (JSON records). */
export const shipLogsRequest = body({ workerId: text(), lines: list(z.string({ error: 'must be a string' }), 1_000, 'strings') });
export type ShipLogsRequest = z.infer<typeof shipLogsRequest>;
export const shipLogsResponse = z.object({ kept: z.number() });

/** POST /internal/reserve: this manager's own results, held under `token` for the peer that asked. */
export const peerReserved = z.object({ token: receiptToken, results: z.array(pulledJob) });
/** POST /internal/ack | release. */
export const settleTokenRequest = body({ token: receiptToken });
