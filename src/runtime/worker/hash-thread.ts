/**
 * Runs in a worker thread (piscina). One message carries a chunk of jobs: many
 * tiny ones together, or one big one alone, so the per-message cost is paid
 * once per chunk rather than once per job. Ids never cross: results come back
 * in the order of the jobs.
 */
import { iteratedSha512 } from '../../job/hash.js';

export interface ChunkTask {
  jobs: { data: string; iterations: number }[];
}

export interface ChunkResult {
  /** One per job, in order; null for a job that could not be hashed (its error is in `errors`). */
  results: (string | null)[];
  errors: { index: number; message: string }[];
  /** Time spent hashing in this thread, in ms (excludes queueing and messaging). */
  ms: number;
}

export default function runChunk(task: ChunkTask): ChunkResult {
  const start = performance.now();
  const results = new Array<string | null>(task.jobs.length);
  const errors: ChunkResult['errors'] = [];
  for (let i = 0; i < task.jobs.length; i++) {
    const j = task.jobs[i]!;
    try {
      results[i] = iteratedSha512(j.data, j.iterations);
    } catch (err) {
      // One bad job must not cost the others in its chunk.
      results[i] = null;
      errors.push({ index: i, message: (err as Error).message });
    }
  }
  return { results, errors, ms: performance.now() - start };
}
