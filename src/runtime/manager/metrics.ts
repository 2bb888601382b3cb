import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobStore } from '../store/job-store.js';

export type ManagerMetrics = ReturnType<typeof createMetrics>;

/** One registry per manager (tests run several in one process). Job data never becomes a label. */
export function createMetrics(store: JobStore, extra: { workers: () => number; now: () => number }) {
  const register = new Registry();
  // Event-loop lag sampled every 100 ms, not prom-client's 10 ms: 100 wake-ups a second cost an idle manager more CPU than its real work.
  collectDefaultMetrics({ register, prefix: 'dynwork_', eventLoopMonitoringPrecision: 100 });
  const depth = new Gauge({
    name: 'dynwork_jobs',
    help: 'Jobs on this manager by state (completed = waiting to be pulled; delivering = handed out, not yet confirmed)',
    labelNames: ['state'] as const,
    registers: [register],
    collect() {
      const c = store.counts();
      depth.set({ state: 'queued' }, c.queued);
      depth.set({ state: 'running' }, c.running);
      depth.set({ state: 'completed' }, c.completed);
      depth.set({ state: 'failed' }, c.failed);
      depth.set({ state: 'delivering' }, c.delivering);
    },
  });
  const oldest = new Gauge({
    name: 'dynwork_oldest_queued_age_seconds',
    help: 'How long the oldest queued job has waited',
    registers: [register],
    collect() {
      const t = store.oldestQueuedAt();
      oldest.set(t === null ? 0 : Math.max(0, extra.now() - t) / 1000);
    },
  });
  const workers = new Gauge({
    name: 'dynwork_workers',
    help: 'Workers that sent a heartbeat recently',
    registers: [register],
    collect() {
      workers.set(extra.workers());
    },
  });
  const counters = {
    enqueued: new Counter({ name: 'dynwork_jobs_enqueued_total', help: 'Jobs accepted by /enqueue', registers: [register] }),
    completed: new Counter({ name: 'dynwork_jobs_completed_total', help: 'Results recorded', registers: [register] }),
    pulled: new Counter({ name: 'dynwork_jobs_pulled_total', help: 'Results handed out by /pullCompleted', registers: [register] }),
    failed: new Counter({ name: 'dynwork_jobs_failed_total', help: 'Jobs failed after too many expired leases', registers: [register] }),
    leaseExpiries: new Counter({ name: 'dynwork_lease_expiries_total', help: 'Leases that expired (job requeued or failed)', registers: [register] }),
    rejectedResults: new Counter({
      name: 'dynwork_results_rejected_total',
      help: 'Results dropped because the worker no longer held the lease',
      registers: [register],
    }),
  };
  // Plain copies of the counters for /status, which must answer synchronously.
  const totals: Record<keyof typeof counters, number> = {
    enqueued: 0,
    completed: 0,
    pulled: 0,
    failed: 0,
    leaseExpiries: 0,
    rejectedResults: 0,
  };
  return {
    register,
    totals: totals as Readonly<typeof totals>,
    count(name: keyof typeof counters, n = 1): void {
      if (n <= 0) return;
      counters[name].inc(n);
      totals[name] += n;
    },
    httpDuration: new Histogram({
      name: 'dynwork_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [register],
    }),
  };
}
