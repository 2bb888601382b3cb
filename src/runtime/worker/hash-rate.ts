/**
 * How fast this machine hashes: chain steps per second per thread with the
 * lanes full. The autoscaler sizes a backlog by it (a rate read low launches
 * more machines than the work needs) and the worker sizes its leases by it.
 *
 * A rate timed by the wall clock reads what the thread got, not what the CPU
 * does: on a CPU shared with another busy process a 20 ms run reads half
 * (12.6 against 26.7 M steps/s here), and a worker calibrates while its
 * threads and the machine are still starting. The scheduler shares a CPU in
 * turns of a few milliseconds (about 3 ms on this kernel's EEVDF: runs of 5 ms
 * read half as well, runs of 2 ms full or a fifth in turn), so each run
 * starts with a few probes of about a millisecond, timed apart, and the
 * fastest counts: contention only ever slows a probe (steps are exact and the
 * clock is monotonic), so the fastest recent one is the CPU's rate.
 */
import { runChains, type HashPath } from '../../job/hash.js';

/** Probes at the start of each run: a few, so one falls in a turn of its own; few, as each is a native call of its own (the rest of the run is one more). */
const PROBES = 3;
/** About one kernel call of the native paths (24 lanes × 1,024 steps), well inside the scheduler's turn. */
const PROBE_MS = 1;
/** A probe shorter than this (the chains ran out) says little about the rate. */
const MIN_PROBE_MS = 0.25;

/** One probe: runChains for about PROBE_MS, timed. `rate` is 0 when it ran too short to tell. */
function probe(path: HashPath, digests: Uint8Array, remaining: Float64Array): { steps: number; rate: number } {
  const t0 = performance.now();
  const steps = runChains(path, digests, remaining, PROBE_MS);
  const ms = performance.now() - t0;
  return { steps, rate: ms >= MIN_PROBE_MS ? steps / (ms / 1000) : 0 };
}

/**
 * runChains for about `budgetMs`: PROBES probes first, then the rest in one
 * call. Returns the steps done and the fastest probe's rate (steps per
 * second; 0 when none ran long enough to tell).
 */
export function timedChains(path: HashPath, digests: Uint8Array, remaining: Float64Array, budgetMs: number): { steps: number; fastest: number } {
  const end = performance.now() + budgetMs;
  let steps = 0;
  let fastest = 0;
  // At least one probe, as runChains always takes a step: a zero budget still moves the chains.
  for (let i = 0; i < PROBES; i++) {
    const p = probe(path, digests, remaining);
    steps += p.steps;
    fastest = Math.max(fastest, p.rate);
    if (p.steps === 0 || performance.now() >= end) return { steps, fastest };
  }
  const left = end - performance.now();
  if (left > 0) steps += runChains(path, digests, remaining, left);
  return { steps, fastest };
}

/**
 * The rate from the fastest of the last `window` samples (each a run's
 * fastest probe): a worker that shares its CPU for a while keeps reporting
 * the CPU's rate, and one whose CPU really got slower reports that once the
 * window has turned over.
 */
export class RateMeter {
  private readonly samples: number[] = [];

  constructor(
    first: number,
    private readonly window = 16,
  ) {
    this.sample(first);
  }

  sample(stepsPerSec: number): void {
    if (!(stepsPerSec > 0)) return;
    this.samples.push(stepsPerSec);
    if (this.samples.length > this.window) this.samples.shift();
  }

  get value(): number {
    return this.samples.length === 0 ? 1 : Math.max(...this.samples);
  }
}

/** This thread's rate with the lanes full: twice as many chains as lanes, the fastest of 16 probes (about 20 ms). */
export function calibrate(path: HashPath, lanes: number): number {
  const n = Math.max(2, 2 * lanes);
  const digests = new Uint8Array(64 * n);
  runChains(path, digests, new Float64Array(n).fill(1_000), 5);
  const remaining = new Float64Array(n).fill(Number.MAX_SAFE_INTEGER);
  let fastest = 0;
  for (let i = 0; i < 16; i++) fastest = Math.max(fastest, probe(path, digests, remaining).rate);
  return fastest;
}
