/**
 * The cluster targets of issue #14 in this machine's one currency, CPU time
 * a job: with every core busy (every cluster figure here is CPU-bound), a
 * throughput target is a ceiling on what all the processes together may spend
 * on a job, and an efficiency target is a ceiling on what they may spend
 * beside the hashing. The bench prints each beside what its run spent, so a
 * miss says how far the code is from the target in microseconds, and two
 * targets that ask for different costs of the same pipeline show it.
 */

/** CPU seconds a job may cost, all processes together, for `jobsPerSec` on `cores` busy CPUs. */
export function cpuPerJobAt(cores: number, jobsPerSec: number): number {
  return cores / jobsPerSec;
}

/** CPU seconds a job may cost beside its hashing (`hashCpu`, at the machine's rate) for `efficiency`. */
export function beyondHashingAt(hashCpu: number, efficiency: number): number {
  return hashCpu * (1 / efficiency - 1);
}

/** The efficiency that `beyond` CPU seconds a job beside its hashing allows at most. */
export function efficiencyWith(hashCpu: number, beyond: number): number {
  return hashCpu / (hashCpu + beyond);
}
