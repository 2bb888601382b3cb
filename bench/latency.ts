import type { ManagerClient } from '../src/client/manager-client.js';

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  n: number;
}

/**
 * Light-load latency (issue #14): `n` probes one after another, each one job
 * (iterations=1) enqueued and its result taken by a long-polling pull that
 * answers as soon as it is in. The job's result is held by the manager it was
 * enqueued to, so the pull asks that one alone; probes take the managers in
 * turn. The first `warmup` probes are not counted (connections, JIT).
 */
export async function enqueueToResultLatency(clients: ManagerClient[], opts: { n?: number; warmup?: number } = {}): Promise<LatencyResult> {
  const n = opts.n ?? 1_000;
  const warmup = opts.warmup ?? 50;
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const client = clients[i % clients.length]!;
    const t0 = performance.now();
    const id = await client.enqueue(`latency-${i}`, 1);
    // An earlier probe's result cannot be left over (each one waited for its own), but do not count on it.
    for (;;) {
      const results = await client.pullCompleted(1, { waitMs: 5_000, local: true });
      if (results.some((r) => r.id === id)) break;
    }
    if (i >= warmup) samples.push(performance.now() - t0);
  }
  const sorted = samples.sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { p50Ms: at(50), p99Ms: at(99), maxMs: sorted[sorted.length - 1]!, n };
}
