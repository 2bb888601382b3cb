import type { JobStore } from '../store/job-store.js';

interface Pending {
  write: () => unknown;
  /** Its loss in a power cut costs only a repeat (JobStore.softTx): it needs no fsync of its own. */
  soft: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: the store writes asked for in the same turn of the event loop
 * (enqueues, leases, completions, pulls) run together at its end as one
 * transaction, so one fsync, each in a savepoint of its own (one that throws
 * is undone alone). Each caller hears back only once the group is committed;
 * the commit is synced to disk unless every write in it is soft.
 */
export class GroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: JobStore) {}

  /** Runs `write` (store calls only, nothing that awaits) with this turn's group; resolves with its answer once that is durable. */
  run<T>(write: () => T, opts: { soft?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, soft: opts.soft ?? false, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is waiting now. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.store.group(
        () => {
          for (const w of batch) {
            try {
              outcomes.push({ ok: true, value: this.store.group(w.write) });
            } catch (err) {
              outcomes.push({ ok: false, value: err });
            }
          }
        },
        batch.some((w) => !w.soft),
      );
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => (outcomes[i]!.ok ? w.resolve(outcomes[i]!.value) : w.reject(outcomes[i]!.value)));
  }
}
