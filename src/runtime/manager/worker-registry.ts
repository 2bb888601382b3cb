import type { HeartbeatRequest, WorkerView } from '../../protocol/index.js';

interface Entry {
  workerId: string;
  instanceId: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  jobsDone: number;
  busy: number;
  threads: number;
  hashRate: number | null;
}

/** What workers said in their last heartbeat. Forgets workers silent for `forgetAfterMs`. */
export class WorkerRegistry {
  private readonly workers = new Map<string, Entry>();

  constructor(private readonly forgetAfterMs = 10 * 60_000) {}

  record(hb: HeartbeatRequest, now: number): void {
    const known = this.workers.get(hb.workerId);
    this.workers.set(hb.workerId, {
      workerId: hb.workerId,
      instanceId: hb.instanceId ?? null,
      firstSeenAt: known?.firstSeenAt ?? now,
      lastSeenAt: now,
      jobsDone: known?.jobsDone ?? 0,
      busy: hb.busy,
      threads: hb.threads,
      hashRate: hb.hashRate ?? this.workers.get(hb.workerId)?.hashRate ?? null,
    });
  }

  /** Marks a worker seen (lease and complete calls count as signs of life too). */
  touch(workerId: string, now: number): void {
    const w = this.workers.get(workerId);
    if (w) w.lastSeenAt = now;
  }

  /** Counts results a worker delivered here. */
  done(workerId: string, n: number): void {
    const w = this.workers.get(workerId);
    if (w) w.jobsDone += n;
  }

  /** The worker's hashing threads, or null before its first heartbeat. */
  threadsOf(workerId: string): number | null {
    return this.workers.get(workerId)?.threads ?? null;
  }

  list(now: number): WorkerView[] {
    const out: WorkerView[] = [];
    for (const [id, w] of this.workers) {
      if (now - w.lastSeenAt > this.forgetAfterMs) {
        this.workers.delete(id);
        continue;
      }
      out.push({ ...w, firstSeenAt: new Date(w.firstSeenAt).toISOString(), lastSeenAt: new Date(w.lastSeenAt).toISOString() });
    }
    return out;
  }

  /** Workers heard from within `withinMs`. */
  activeCount(now: number, withinMs: number): number {
    let n = 0;
    for (const w of this.workers.values()) if (now - w.lastSeenAt <= withinMs) n++;
    return n;
  }
}
