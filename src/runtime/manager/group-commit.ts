import type { JobStore } from '../store/job-store.js';

interface Pending {
  write: () => unknown;
  /** Its loss in a power cut costs only a repeat (JobStore.softTx): it asks for no sync of its own. */
  soft: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: the store writes asked for in the same turn of the event loop
 * (enqueues, leases, completions, pulls) run together at its end as one
 * transaction, each in a savepoint of its own (one that throws is undone
 * alone). The transaction commits without a sync, then the WAL is synced
 * (JobStore.durable, WalSync: inline while the disk is fast, on the libuv
 * pool when it is slow, so the loop serves requests while the disk works) and
 * the group's callers hear back once it is done. A group of soft writes only
 * asks for no sync; as no group commits while a sync runs, no answer shows a
 * write that a power cut could still take back.
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
    if (this.pending.length === 0) return;
    if (this.store.syncing) {
      // The next group gathers while the disk syncs the last one: one
      // transaction a sync, as when the sync held the loop, but the loop
      // meanwhile reads and parses the requests that join it.
      this.scheduled = true;
      const again = (): void => this.flush();
      this.store.settled().then(again, again);
      return;
    }
    const batch = this.pending;
    this.pending = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.store.group(() => {
        for (const w of batch) {
          try {
            outcomes.push({ ok: true, value: this.store.group(w.write) });
          } catch (err) {
            outcomes.push({ ok: false, value: err });
          }
        }
      }, false);
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const synced = batch.some((w) => !w.soft) ? this.store.durable() : Promise.resolve();
    synced.then(
      () => batch.forEach((w, i) => (outcomes[i]!.ok ? w.resolve(outcomes[i]!.value) : w.reject(outcomes[i]!.value))),
      // A write that failed keeps its own error; the others were not saved.
      (err: unknown) => batch.forEach((w, i) => w.reject(outcomes[i]!.ok ? err : outcomes[i]!.value)),
    );
  }
}
