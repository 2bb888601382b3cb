import { z } from 'zod';
import { safeInt } from './fields.js';

/** A job as submitted: data (UTF-8 text) and how many times to hash it. */
export const newJob = z.object({ data: z.string(), iterations: safeInt });
export type NewJob = z.infer<typeof newJob>;

/** A job's result: the iterated SHA-512, in lowercase hex. */
export const jobResult = z.string({ error: 'must be 128 lowercase hex characters' }).regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters');

export const pulledJob = z.object({ id: safeInt, result: jobResult });
export type PulledJob = z.infer<typeof pulledJob>;

export const jobStatus = z.enum(['queued', 'running', 'completed', 'pulled', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof jobStatus>;

/** One lease of a job by a worker, and how it ended. */
export const jobAttempt = z.object({
  attempt: safeInt,
  /** The worker's id: the same in `dynwork status`, the worker's log lines and here. */
  workerId: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  /** `running`, `completed`, `lease expired`, `lease expired; job failed after N attempts`, `cancelled`. */
  outcome: z.string(),
});
export type JobAttempt = z.infer<typeof jobAttempt>;

export const jobView = z.object({
  id: safeInt,
  status: jobStatus,
  iterations: safeInt,
  /** Leases so far, retries included. */
  attempts: safeInt,
  enqueuedAt: z.string(),
  completedAt: z.string().nullable(),
  pulledAt: z.string().nullable(),
  result: jobResult.nullable(),
  /** The manager that owns the job. */
  manager: safeInt.optional(),
  /** Who holds the job now and until when (running jobs). */
  lease: z.object({ workerId: z.string(), expiresAt: z.string() }).nullable().optional(),
  /** Why a failed or cancelled job ended. */
  error: z.string().nullable().optional(),
  /** When a failed or cancelled job ended. */
  endedAt: z.string().nullable().optional(),
  /** Every attempt, oldest first (GET /jobs/:id; not in lists). */
  history: z.array(jobAttempt).optional(),
});
export type JobView = z.infer<typeof jobView>;

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
