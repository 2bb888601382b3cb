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
  results: string[];
  /** Time spent hashing in this thread, in ms (excludes queueing and messaging). */
  ms: number;
}

export default function runChunk(task: ChunkTask): ChunkResult {
  const start = performance.now();
  const results = new Array<string>(task.jobs.length);
  for (let i = 0; i < task.jobs.length; i++) {
    const j = task.jobs[i]!;
    results[i] = iteratedSha512(j.data, j.iterations);
  }
  return { results, ms: performance.now() - start };
}
