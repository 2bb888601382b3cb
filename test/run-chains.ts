/**
 * Runs jobs' chains to the end on one hash path, in short calls so chains are
 * also handed back and resumed: what test/hash-paths.test.ts checks on this
 * CPU, and test/avx2-only-child.ts on an emulated one.
 */
import { firstDigest, runChains, type HashPath } from '../src/job/hash.js';

export function runAll(path: HashPath, jobs: readonly { data: string; iterations: number }[]): string[] {
  const digests = new Uint8Array(64 * jobs.length);
  const remaining = new Float64Array(jobs.length);
  jobs.forEach((j, i) => {
    digests.set(firstDigest(j.data), 64 * i);
    remaining[i] = j.iterations - 1;
  });
  // A short budget, so chains are also handed back and resumed.
  for (let calls = 0; remaining.some((r) => r > 0); calls++) {
    if (calls >= 100_000) throw new Error(`the chains on ${path} did not finish in 100,000 calls`);
    runChains(path, digests, remaining, 2);
  }
  return jobs.map((_, i) => Buffer.from(digests.subarray(64 * i, 64 * i + 64)).toString('hex'));
}
