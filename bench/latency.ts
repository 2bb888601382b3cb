import type { ManagerClient } from '../src/client/manager-client.js';
import { percentile } from './stats.js';

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  n: number;
  /** The first probes, while the processes' code is still being compiled (a fresh cluster's figure). */
  cold: { p50Ms: number; p99Ms: number; n: number };
  warmup: number;
}

/**
 * Light-load latency (issue #14): `n` probes one after another, each one job
 * (iterations=1) enqueued and its result taken by a long-polling pull that
 * answers as soon as it is in. The job's result is held by the manager it was
 * enqueued to, so the pull asks that one alone; probes take the managers in
 * turn. The first `warmup` probes are not counted: V8 compiles the managers'
 * and workers' code for speed only after it has run many times, and on this
 * machine the p50 over the first thousand probes is about 1.6 × the p50 once
 * warm (6.8 against 4.1 ms); those first probes are reported apart as `cold`.
 */
export async function enqueueToResultLatency(clients: ManagerClient[], opts: { n?: number; warmup?: number } = {}): Promise<LatencyResult> {
  const n = opts.n ?? 1_000;
  const warmup = opts.warmup ?? 2_000;
  const samples: number[] = [];
  const early: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const client = clients[i % clients.length]!;
    const t0 = performance.now();
    const id = await client.enqueue(`latency-${i}`, 1);
    // An earlier probe's result cannot be left over (each one waited for its own), but do not count on it.
    for (;;) {
      const results = await client.pullCompleted(1, { waitMs: 5_000, local: true });
      if (results.some((r) => r.id === id)) break;
    }
    (i >= warmup ? samples : early).push(performance.now() - t0);
  }
  const cold = early.slice(0, 1_000);
  return { p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), maxMs: Math.max(...samples), n, cold: { p50Ms: percentile(cold, 50), p99Ms: percentile(cold, 99), n: cold.length }, warmup };
}
