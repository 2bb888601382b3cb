import type { JobStore } from '../store/job-store.js';

interface Pending {
  write: () => unknown;
  /** Its loss in a power cut costs only a repeat (JobStore.softTx): it asks for no sync of its own. */
  soft: boolean;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** A long-poll's attempt (see `park`). */
interface Parked extends Pending {
  ready: () => boolean;
  /** Answered before the writes of its group (see `park`). */
  first: boolean;
  /** When it gives up (performance.now() ms). */
  until: number;
  signal: AbortSignal;
  /** Ends the wait: set while it is parked. */
  giveUp?: () => void;
  timer?: NodeJS.Timeout;
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
 *
 * Long-polls (a worker's lease, a reader's pull) park here and try again
 * inside each group, after its writes: an enqueue's group leases its job to a
 * waiting worker, a completion's group hands the result to a waiting reader,
 * and those answers go out with the group's own, after its one sync. Woken
 * instead, each would take a turn of the loop and a group of its own
 * (measured here: a third of a millisecond each, twice on every job's way
 * from enqueue to reader).
 */
export class GroupCommit {
  private pending: Pending[] = [];
  /** Long-polls to try in the next group before they park. */
  private trying: Parked[] = [];
  private parked = new Set<Parked>();
  private scheduled = false;
  /** The parked attempts are to run even if no write comes (see `poke`). */
  private poked = false;

  constructor(private readonly store: JobStore) {}

  /** Runs `write` (store calls only, nothing that awaits) with this turn's group; resolves with its answer once that is durable. */
  run<T>(write: () => T, opts: { soft?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, soft: opts.soft ?? false, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * A long-poll: `attempt` (store calls only, nothing that awaits; a soft
   * write) runs in each group in which `ready` (a look at the store's counts:
   * no write, no savepoint) holds, until it answers something other than
   * undefined; that answer is the promise's once its group is durable.
   * Undefined once `ms` have passed or `signal` aborted. Ready now, its first
   * try is in this turn's group; else in the next group that makes it ready.
   * `first` answers it before the group's writes: a reader's result goes out
   * before the worker that delivered it hears back. A worker's lease goes out
   * after the enqueue's answer: on two cores, traces of the latency bench
   * showed a worker served first holding up the client that waited for its
   * ack, whose pull then came in after the result.
   */
  park<T>(attempt: () => T | undefined, opts: { ready: () => boolean; ms: number; signal: AbortSignal; first?: boolean }): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      const { ready, ms, signal } = opts;
      const p: Parked = { write: attempt, ready, first: opts.first ?? false, soft: true, resolve: resolve as (value: unknown) => void, reject, until: performance.now() + ms, signal };
      if (!ready()) this.hold(p);
      else {
        this.trying.push(p);
        this.schedule();
      }
    });
  }

  /** Something changed outside a group (a sweep, a staged batch's commit): the parked attempts run again soon. */
  poke(): void {
    if (this.parked.size === 0) return;
    this.poked = true;
    this.schedule();
  }

  /** Long-polls parked now. */
  get parkedCount(): number {
    return this.parked.size;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Parks `p` until a group answers it, its time is up or its signal aborts. */
  private hold(p: Parked): void {
    const left = p.until - performance.now();
    if (left <= 0 || p.signal.aborted) return p.resolve(undefined);
    p.giveUp = () => {
      this.unpark(p);
      p.resolve(undefined);
    };
    p.timer = setTimeout(p.giveUp, left);
    p.signal.addEventListener('abort', p.giveUp, { once: true });
    this.parked.add(p);
  }

  private unpark(p: Parked): void {
    this.parked.delete(p);
    clearTimeout(p.timer);
    if (p.giveUp) p.signal.removeEventListener('abort', p.giveUp);
  }

  /** Commits what is waiting now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 && this.trying.length === 0 && !this.poked) return;
    if (this.store.syncing) {
      // The next group gathers while the disk syncs the last one: one
      // transaction a sync, as when the sync held the loop, but the loop
      // meanwhile reads and parses the requests that join it.
      this.scheduled = true;
      const again = (): void => this.flush();
      this.store.settled().then(again, again);
      return;
    }
    const batch: Pending[] = this.pending;
    const trying: Parked[] = [];
    for (const p of this.trying) {
      if (p.signal.aborted) p.resolve(undefined);
      else trying.push(p);
    }
    this.pending = [];
    this.trying = [];
    this.poked = false;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const unanswered: Parked[] = [];
    const written = batch.length;
    try {
      this.store.group(() => {
        for (const w of batch) {
          try {
            outcomes.push({ ok: true, value: this.store.group(w.write) });
          } catch (err) {
            outcomes.push({ ok: false, value: err });
          }
        }
        // The longest parked first, then the new ones.
        for (const p of [...this.parked, ...trying]) {
          let outcome: { ok: boolean; value: unknown };
          try {
            outcome = { ok: true, value: p.ready() ? this.store.group(p.write) : undefined };
          } catch (err) {
            outcome = { ok: false, value: err };
          }
          if (outcome.ok && outcome.value === undefined) {
            if (!this.parked.has(p)) unanswered.push(p);
            continue;
          }
          this.unpark(p);
          batch.push(p);
          outcomes.push(outcome);
        }
      }, false);
    } catch (err) {
      for (const w of [...batch, ...trying]) w.reject(err);
      return;
    }
    // Parked before anything else can commit: no group passes them by.
    for (const p of unanswered) this.hold(p);
    const synced = batch.some((w) => !w.soft) ? this.store.durable() : Promise.resolve();
    // The parked that go `first`, the writes, then the other parked.
    const all = [...batch.keys()];
    const parked = all.slice(written);
    const first = (i: number): boolean => (batch[i] as Parked).first;
    const order = [...parked.filter(first), ...all.slice(0, written), ...parked.filter((i) => !first(i))];
    synced.then(
      () => order.forEach((i) => (outcomes[i]!.ok ? batch[i]!.resolve(outcomes[i]!.value) : batch[i]!.reject(outcomes[i]!.value))),
      // A write that failed keeps its own error; the others were not saved.
      (err: unknown) => order.forEach((i) => batch[i]!.reject(outcomes[i]!.ok ? err : outcomes[i]!.value)),
    );
  }
}
