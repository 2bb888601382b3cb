import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { endpointSchema, pem, tokenSchema } from './manager.js';

export const workerConfigSchema = z.object({
  cluster: z.string().min(1).default('default'),
  /** @default instanceId, else "<hostname>-<pid>" */
  workerId: z.string().min(1).optional(),
  /** The provider's id for this worker (local: pid; aws: instance id). */
  instanceId: z.string().optional(),
  managers: z.array(endpointSchema).min(1),
  workerToken: tokenSchema,
  /** PEM of the cluster CA: managers are reached over HTTPS and must prove they are this cluster's. */
  ca: pem('CERTIFICATE').optional(),
  /** Hashing threads. @default all cores */
  threads: z.number().int().positive().default(availableParallelism()),
  /** Exit after this long with nothing to do. @default 300000 (5 min) */
  idleTimeoutMs: z.number().int().positive().default(300_000),
  /** Exit when no manager has answered for this long. @default 600000 (10 min) */
  noManagerTimeoutMs: z.number().int().positive().default(600_000),
  /** Drain and exit after this long; 0 = never. @default 86400000 (24 h) */
  maxLifetimeMs: z
    .number()
    .int()
    .nonnegative()
    .default(24 * 3600_000),
  /** Long-poll length asked of managers. @default 20000 */
  leaseWaitMs: z.number().int().positive().default(20_000),
  /** Timeout of each call to a manager (long-polls get leaseWaitMs on top). @default 5000 */
  requestTimeoutMs: z.number().int().positive().default(5_000),
  /**
   * While more jobs wait on this worker, results go to their manager in
   * batches at most this far apart (one write and one answer for several).
   * @default 250
   */
  resultBatchMs: z.number().int().nonnegative().max(60_000).default(250),
  /** @default "info" */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
