/**
 * Chain steps per CPU second on one core, for every hash path this machine
 * runs and both C references, in interleaved rounds (this VM's speed drifts,
 * so each round measures everything once and the medians are compared).
 */
import { LANES, runChains, supportedPaths, type HashPath } from '../src/job/hash.js';
import { REFERENCE_NAMES, buildReference, type Reference } from './native.js';
import { percentile } from './stats.js';

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
  references: { kind: Reference; name: string; perSec: number; samples: number[] }[] | { error: string };
  paths: { path: HashPath; lanes: number; perSec: number; samples: number[] }[];
  mixed: { path: HashPath; perSec: number; samples: number[] } | null;
}

const median = (xs: number[]) => percentile(xs, 50);

export function measurePaths(rounds = 5, seconds = 0.3): PathFigures {
  const paths = supportedPaths();
  const ref = buildReference();
  const refs: Record<Reference, number[]> = { lowlevel: [], evp: [] };
  const per: Record<string, number[]> = {};
  const mix: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      if ('run' in ref) for (const kind of ['lowlevel', 'evp'] as const) refs[kind].push(ref.run(kind, Math.round(2_000_000 * seconds)));
      for (const p of paths) (per[p] ??= []).push(fullLanes(p, p === 'javascript' ? seconds / 2 : seconds));
      mix.push(mixed(paths[0]!, r + 1));
    }
  } finally {
    if ('close' in ref) ref.close();
  }
  return {
    rounds,
    references: 'run' in ref ? (['lowlevel', 'evp'] as const).map((kind) => ({ kind, name: REFERENCE_NAMES[kind], perSec: median(refs[kind]), samples: refs[kind] })) : ref,
    paths: paths.map((path) => ({ path, lanes: LANES[path], perSec: median(per[path]!), samples: per[path]! })),
    mixed: { path: paths[0]!, perSec: median(mix), samples: mix },
  };
}
