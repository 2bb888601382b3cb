/**
 * Fair shares of a backlog between the workers leasing from this manager.
 *
 * A worker asks for a couple of seconds of its own work (plan.ts), so the
 * first to ask after a burst of enqueues could take the whole backlog while
 * the others idle, and the batch would end on that one worker. The manager
 * instead lets each worker hold at most its share of the work in hand (queued
 * plus leased), in proportion to its hashing threads: the workers finish a
 * backlog together, and the last chains run in every lane, not in one.
 *
 * Threads, not the hash rate a worker reports: that rate is measured in wall
 * time, so a worker whose CPU was busy with something else when it measured
 * reads slow. Weighted by it, two equal workers here were reported at 12.2 and
 * 8.5 M steps/s, split a heavy batch 58:42, and one idled for the last 280 ms
 * of a 990 ms round. Between unlike machines the rest evens out because a
 * worker holds only a couple of seconds of its own work (plan.ts): a bigger
 * backlog stays queued for whoever comes back first.
 */

export interface LeaseRoomInput {
  worker: string;
  /** Iterations queued here. */
  queuedIterations: number;
  /** Iterations leased from here, by worker. */
  holdings: ReadonlyMap<string, { iterations: number }>;
  /** The workers competing now (holders and recent askers), `worker` among them. */
  pool: ReadonlySet<string>;
  /** The worker's hashing threads; null before its first heartbeat. */
  threadsOf(worker: string): number | null;
}

/**
 * How many more iterations `worker` may lease now: its share of the work in
 * hand less what it holds (≤ 0: none). A worker not yet heard from weighs as
 * the mean of the known ones; alone, a worker may take everything.
 */
export function leaseRoom(i: LeaseRoomInput): number {
  if (i.pool.size <= 1) return Infinity;
  const threads = new Map<string, number>();
  for (const w of i.pool) {
    const t = i.threadsOf(w);
    if (t !== null && t > 0) threads.set(w, t);
  }
  let known = 0;
  for (const t of threads.values()) known += t;
  const mean = threads.size > 0 ? known / threads.size : 1;
  const total = known + (i.pool.size - threads.size) * mean;
  let inHand = i.queuedIterations;
  for (const h of i.holdings.values()) inHand += h.iterations;
  const share = (inHand * (threads.get(i.worker) ?? mean)) / total;
  return share - (i.holdings.get(i.worker)?.iterations ?? 0);
}

/**
 * Who is competing for this manager's queue: workers with a lease call open
 * here, or one answered within `recentMs` (a worker between calls is still
 * in the game). Holders are added by the caller.
 */
export class LeaseAskers {
  private readonly open = new Map<string, number>();
  private readonly lastAt = new Map<string, number>();

  constructor(private readonly recentMs = 2_000) {}

  begin(worker: string, now: number): void {
    this.open.set(worker, (this.open.get(worker) ?? 0) + 1);
    this.lastAt.set(worker, now);
  }

  end(worker: string, now: number): void {
    const n = (this.open.get(worker) ?? 1) - 1;
    if (n > 0) this.open.set(worker, n);
    else this.open.delete(worker);
    this.lastAt.set(worker, now);
  }

  /** The askers now, with `holders` added. */
  pool(holders: Iterable<string>, now: number): Set<string> {
    const out = new Set(holders);
    for (const w of this.open.keys()) out.add(w);
    for (const [w, at] of this.lastAt) {
      if (now - at <= this.recentMs) out.add(w);
      else if (!this.open.has(w)) this.lastAt.delete(w);
    }
    return out;
  }
}
