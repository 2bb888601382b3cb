/**
 * Runs in a worker thread (piscina). One message carries a chunk of chains:
 * new jobs (their data) and jobs resumed where an earlier chunk left them
 * (their digest and the steps left). They run side by side in the path's
 * lanes (src/job/hash.ts runChains) for about `budgetMs`; what is unfinished
 * goes back with its digest, so the next chunk carries it on beside new jobs
 * and the lanes stay full. Ids never cross: everything comes back in order.
 */
import { firstDigest, type HashPath } from '../../job/hash.js';
import { timedChains } from './hash-rate.js';

export interface ChunkTask {
  path: HashPath;
  budgetMs: number;
  /** A new job has `data`; a resumed one `digest` (64 bytes). `remaining`: chain steps left after the digest. */
  jobs: { data: string | null; digest: Uint8Array | null; remaining: number }[];
}

export interface ChunkResult {
  /** The result of each finished job, in order; null for one that is not finished. */
  results: (string | null)[];
  /** Where each job stands: 64 bytes of digest and the steps left. */
  digests: Uint8Array;
  remaining: Float64Array;
  /** Chain steps done, and the time spent hashing in this thread in ms (excludes queueing and messaging). */
  steps: number;
  ms: number;
  /** Steps per second in the fastest slice of the run (hash-rate.ts): what this CPU does, however it was shared. */
  fastest: number;
}

export default function runChunk(task: ChunkTask): ChunkResult {
  const start = performance.now();
  const n = task.jobs.length;
  const digests = new Uint8Array(64 * n);
  const remaining = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = task.jobs[i]!;
    digests.set(j.digest ?? firstDigest(j.data ?? ''), 64 * i);
    remaining[i] = j.remaining;
  }
  const { steps, fastest } = timedChains(task.path, digests, remaining, task.budgetMs);
  const results = new Array<string | null>(n);
  for (let i = 0; i < n; i++) results[i] = remaining[i] === 0 ? Buffer.from(digests.buffer, 64 * i, 64).toString('hex') : null;
  return { results, digests, remaining, steps, ms: performance.now() - start, fastest };
}
