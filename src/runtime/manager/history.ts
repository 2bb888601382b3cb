import type { Sample } from '../../protocol/index.js';

export type { Sample } from '../../protocol/index.js';

/**
 * The last hour of samples in a fixed ring: no external service, and memory
 * that does not grow with uptime.
 */
export class History {
  private readonly ring: (Sample | undefined)[];
  private next = 0;

  constructor(
    readonly intervalMs = 10_000,
    keep = 360,
  ) {
    this.ring = new Array<Sample | undefined>(keep);
  }

  record(sample: Sample): void {
    const last = this.ring[(this.next + this.ring.length - 1) % this.ring.length];
    // Two samples in one interval (a late timer): the later one stands.
    if (last && last.at === sample.at) {
      this.ring[(this.next + this.ring.length - 1) % this.ring.length] = sample;
      return;
    }
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.ring.length;
  }

  /** Oldest first. */
  list(): Sample[] {
    const out: Sample[] = [];
    for (let i = 0; i < this.ring.length; i++) {
      const s = this.ring[(this.next + i) % this.ring.length];
      if (s) out.push(s);
    }
    return out;
  }
}

/**
 * The cluster's history from every manager's: jobs and rates add up; workers
 * take the largest count (a worker talks to every manager, so adding would
 * count it more than once).
 */
export function mergeHistories(lists: readonly (readonly Sample[])[]): Sample[] {
  const byAt = new Map<number, Sample>();
  for (const list of lists) {
    for (const s of list) {
      const m = byAt.get(s.at);
      if (!m) byAt.set(s.at, { ...s });
      else {
        m.queued += s.queued;
        m.running += s.running;
        m.completedPerSec += s.completedPerSec;
        m.workers = Math.max(m.workers, s.workers);
      }
    }
  }
  return [...byAt.values()].sort((a, b) => a.at - b.at);
}
