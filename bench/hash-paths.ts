/**
 * Chain steps per CPU second on one core, for every hash path this machine
 * runs and both C references, in interleaved rounds (this VM's speed drifts,
 * so each round measures everything once and the medians are compared).
 *
 * Each round runs on one CPU, the process pinned to it (the C reference, a
 * child, inherits the pin), taking the CPUs in turn: on this VM one virtual
 * CPU at a time can run a third slower than the other for minutes (a
 * neighbour on its host core), and a reference that landed on the other one
 * than the paths skewed every ratio, 2.2 M against 3.1 M for the same loop.
 * So a path's ratio is the median of its per-round ratios, each taken on one
 * core at one time.
 */
import { execFileSync } from 'node:child_process';
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
  /** The CPU each round ran on; empty when the process could not be pinned (no taskset). */
  cpus: number[];
  references: { kind: Reference; name: string; perSec: number; samples: number[] }[] | { error: string };
  /** `ratio`: the median over rounds of the path's rate ÷ the low-level reference's in the same round (null without a reference). */
  paths: { path: HashPath; lanes: number; perSec: number; samples: number[]; ratio: number | null }[];
  mixed: { path: HashPath; perSec: number; samples: number[]; ratio: number | null } | null;
}

const median = (xs: number[]) => percentile(xs, 50);

/** The CPUs this process may run on, as taskset lists them ("0,1" or "0-3"), or null without taskset. */
function affinity(): string | null {
  try {
    return execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' })
      .split(': ')[1]!
      .trim();
  } catch {
    return null;
  }
}

function cpusIn(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
  });
}

/** Pins every thread of this process (and so the children it starts) to `cpus`. */
function pin(cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

export function measurePaths(rounds = 6, seconds = 0.3): PathFigures {
  const paths = supportedPaths();
  const ref = buildReference();
  const refs: Record<Reference, number[]> = { lowlevel: [], evp: [] };
  const per: Record<string, number[]> = {};
  const mix: number[] = [];
  const allowed = affinity();
  const cpus = allowed ? cpusIn(allowed) : [];
  const ran: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      if (cpus.length > 0) {
        pin(String(cpus[r % cpus.length]));
        ran.push(cpus[r % cpus.length]!);
      }
      if ('run' in ref) for (const kind of ['lowlevel', 'evp'] as const) refs[kind].push(ref.run(kind, Math.round(2_000_000 * seconds)));
      for (const p of paths) (per[p] ??= []).push(fullLanes(p, p === 'javascript' ? seconds / 2 : seconds));
      mix.push(mixed(paths[0]!, r + 1));
    }
  } finally {
    if ('close' in ref) ref.close();
    if (allowed) pin(allowed);
  }
  const ratio = (samples: number[]) => ('run' in ref ? median(samples.map((x, r) => x / refs.lowlevel[r]!)) : null);
  return {
    rounds,
    cpus: ran,
    references: 'run' in ref ? (['lowlevel', 'evp'] as const).map((kind) => ({ kind, name: REFERENCE_NAMES[kind], perSec: median(refs[kind]), samples: refs[kind] })) : ref,
    paths: paths.map((path) => ({ path, lanes: LANES[path], perSec: median(per[path]!), samples: per[path]!, ratio: ratio(per[path]!) })),
    mixed: { path: paths[0]!, perSec: median(mix), samples: mix, ratio: ratio(mix) },
  };
}
