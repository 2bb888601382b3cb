import { z } from 'zod';
import { LIMIT_DEFAULTS } from './bounds.js';

export const limitsSchema = z.object({
  /** @default 1048576 (1 MiB) */
  maxDataBytes: z.number().int().positive().default(LIMIT_DEFAULTS.maxDataBytes),
  /** @default 10000000 */
  maxIterations: z.number().int().positive().default(LIMIT_DEFAULTS.maxIterations),
  /** @default 10000 */
  maxTop: z.number().int().positive().default(LIMIT_DEFAULTS.maxTop),
  /** Jobs in one batch enqueue. @default 10000 */
  maxBatch: z.number().int().positive().default(LIMIT_DEFAULTS.maxBatch),
  /** Whole request body. @default 16777216 (16 MiB) */
  maxBodyBytes: z.number().int().positive().default(LIMIT_DEFAULTS.maxBodyBytes),
});
export type Limits = z.infer<typeof limitsSchema>;
