/**
 * Chain steps per CPU second on one core, for every hash path this machine
 * runs and both C references, in interleaved rounds (this VM's speed drifts,
 * so each round measures everything once and the medians are compared).
 *
 * Each round runs on one CPU, the CPUs in turn (bench/affinity.ts; the C
 * reference, a child, runs there too), and a path's ratio is the median of
 * its per-round ratios, each taken on one core at one time, over the quiet
 * rounds only: those whose reference ran within 10 % of its best. When this
 * VM is slowed by its neighbours, the OpenSSL loop slows more than the SIMD
 * kernels (2.0 against 3.0 M steps/s while avx512 went 20.7 against 24.6 M),
 * so a slow round would flatter every ratio.
 */
import { onCpu, pinnableCpus } from './affinity.js';
import { LANES, runChains, supportedPaths, type HashPath } from '../src/job/hash.js';
import { REFERENCE_NAMES, buildReference, type Reference } from './native.js';
import { median, percentile } from './stats.js';

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Steps per second of `path` with its lanes full (two chains per lane, none finishing), by `clock` in seconds: CPU time by default. */
export function fullLanes(path: HashPath, seconds: number, clock: () => number = cpuNow): number {
  const n = 2 * LANES[path];
  const digests = new Uint8Array(64 * n);
  const remaining = new Float64Array(n).fill(Number.MAX_SAFE_INTEGER);
  const t = clock();
  let steps = 0;
  while (clock() - t < seconds) steps += runChains(path, digests, remaining, 50);
  return steps / (clock() - t);
}

/** 64 jobs of 1–200,000 iterations to the end, lanes refilled as chains finish (the worker's case). */
function mixed(path: HashPath, seed: number): number {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const n = 64;
  const digests = new Uint8Array(64 * n);
  const remaining = Float64Array.from({ length: n }, () => 1 + Math.floor(rnd() * 200_000));
  const t = cpuNow();
  let steps = 0;
  while (remaining.some((r) => r > 0)) steps += runChains(path, digests, remaining, 1_000);
  return steps / (cpuNow() - t);
}

export interface PathFigures {
  rounds: number;
  /** The CPU each round ran on; empty when the process could not be pinned (no taskset). */
  cpus: number[];
  /** `ratio` as for the paths: the low-level one's is 1, the EVP one's its speed against it. */
  references: { kind: Reference; name: string; perSec: number; samples: number[]; ratio: number }[] | { error: string };
  /** The rounds ratios are taken over (the reference within 10 % of its best); empty without a reference. */
  quietRounds: number[];
  /** `ratio`: the median over the quiet rounds of the path's rate ÷ the low-level reference's in the same round (null without a reference). */
  paths: { path: HashPath; lanes: number; perSec: number; samples: number[]; ratio: number | null }[];
  mixed: { path: HashPath; perSec: number; samples: number[]; ratio: number | null } | null;
}

/** A rate's middle round (of an even count, the upper middle). */
const middle = (xs: number[]) => percentile(xs, 50);

export async function measurePaths(rounds = 6, seconds = 0.3): Promise<PathFigures> {
  const paths = supportedPaths();
  const ref = buildReference();
  const refs: Record<Reference, number[]> = { lowlevel: [], evp: [] };
  const per: Record<string, number[]> = {};
  const mix: number[] = [];
  const cpus = pinnableCpus();
  const ran: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const cpu = cpus[r % cpus.length];
      if (cpu !== undefined) ran.push(cpu);
      await onCpu(cpu, () => {
        if ('run' in ref) for (const kind of ['lowlevel', 'evp'] as const) refs[kind].push(ref.run(kind, Math.round(2_000_000 * seconds)));
        for (const p of paths) (per[p] ??= []).push(fullLanes(p, p === 'javascript' ? seconds / 2 : seconds));
        mix.push(mixed(paths[0]!, r + 1));
      });
    }
  } finally {
    if ('close' in ref) ref.close();
  }
  const best = Math.max(...refs.lowlevel);
  const quietRounds = refs.lowlevel.flatMap((x, r) => (x >= 0.9 * best ? [r] : []));
  const ratio = (samples: number[]) => ('run' in ref ? roundRatio(samples, refs.lowlevel, quietRounds) : null);
  return {
    rounds,
    cpus: ran,
    quietRounds,
    references:
      'run' in ref
        ? (['lowlevel', 'evp'] as const).map((kind) => ({
            kind,
            name: REFERENCE_NAMES[kind],
            perSec: middle(refs[kind]),
            samples: refs[kind],
            ratio: roundRatio(refs[kind], refs.lowlevel, quietRounds),
          }))
        : ref,
    paths: paths.map((path) => ({ path, lanes: LANES[path], perSec: middle(per[path]!), samples: per[path]!, ratio: ratio(per[path]!) })),
    mixed: { path: paths[0]!, perSec: middle(mix), samples: mix, ratio: ratio(mix) },
  };
}

/** The median of samples[r] ÷ reference[r] over `rounds`. */
function roundRatio(samples: readonly number[], reference: readonly number[], rounds: readonly number[]): number {
  return median(rounds.map((r) => samples[r]! / reference[r]!));
}
