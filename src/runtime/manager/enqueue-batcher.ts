import type { NewJob } from '../../protocol/index.js';
import type { BatchCommit, JobStore } from '../store/job-store.js';

/**
 * Group commit: enqueues arriving in the same turn of the event loop share one
 * transaction (one fsync), and each caller is answered only after it commits.
 */
export class EnqueueBatcher {
  private pending: { jobs: readonly NewJob[]; resolve: (ids: number[]) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly store: JobStore,
    private readonly now: () => number,
    private readonly onCommit: (count: number) => void,
  ) {}

  enqueue(jobs: readonly NewJob[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ jobs, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits a staged batch (its own transaction); waiting workers hear of the new jobs like any enqueue. */
  commitStaged(id: string, parts: number): BatchCommit {
    const r = this.store.commitBatch(id, parts, this.now());
    if (r.kind === 'committed' && r.fresh && r.ids.length > 0) this.onCommit(r.ids.length);
    return r;
  }

  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    let ids: number[];
    try {
      ids = this.store.enqueue(
        batch.flatMap((b) => b.jobs),
        this.now(),
      );
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    let at = 0;
    for (const b of batch) {
      b.resolve(ids.slice(at, at + b.jobs.length));
      at += b.jobs.length;
    }
    this.onCommit(ids.length);
  }
}
