import { z } from 'zod';

/** How the leader scales workers. Every field has a default from DESIGN §6. */
export const policySchema = z.object({
  /** Scale up when the oldest queued job has waited this long. @default 20000 */
  scaleUpAfterMs: z.number().int().positive().default(20_000),
  /** How often the leader decides. @default 5000 */
  intervalMs: z.number().int().positive().default(5_000),
  /** Most workers at once, cluster-wide. @default 3 */
  maxWorkers: z.number().int().nonnegative().default(3),
  /** A launched worker that has not sent a heartbeat by then is terminated (and replaced if work waits). @default 120000 */
  launchDeadlineMs: z.number().int().positive().default(120_000),
  /** A worker silent this long after its last heartbeat is dead: terminated and replaced. @default 30000 */
  heartbeatTimeoutMs: z.number().int().positive().default(30_000),
  /** No further launch this soon after one (the new workers need time to make a dent). @default 10000 */
  scaleUpCooldownMs: z.number().int().nonnegative().default(10_000),
  /** Workers still there after the cluster has been idle this long are terminated (they should have exited). @default 360000 */
  idleTerminateAfterMs: z.number().int().positive().default(360_000),
  /** A peer manager unhealthy this long, with no process or instance left, is relaunched on its data. @default 15000 */
  managerDeadAfterMs: z.number().int().positive().default(15_000),
  /** At most one relaunch of a manager this often. @default 30000 */
  managerRelaunchCooldownMs: z.number().int().positive().default(30_000),
  /**
   * A relaunched manager is a machine booting (on AWS: minutes): for this long
   * after its relaunch it is neither relaunched again nor stopped, and an
   * outage only counts from the end of it. Must cover a boot. @default 30000
   */
  managerBootGraceMs: z.number().int().positive().default(30_000),
  /** Hash threads per worker (to size scale-ups before any worker reported). @default 1 */
  workerThreads: z.number().int().positive().default(1),
  /** Iterations per second per thread assumed until workers report theirs. @default 1000000 */
  defaultHashRate: z.number().positive().default(1_000_000),
});

export type AutoscalePolicy = z.infer<typeof policySchema>;
