import type { NewJob } from '../../protocol/index.js';
import type { BatchCommit, JobStore } from '../store/job-store.js';
import type { GroupCommit } from './group-commit.js';

/** Enqueues, each answered once committed (with its turn's group), and the waiting workers told. */
export class EnqueueBatcher {
  constructor(
    private readonly store: JobStore,
    private readonly writes: GroupCommit,
    private readonly now: () => number,
    private readonly onCommit: (count: number) => void,
  ) {}

  async enqueue(jobs: readonly NewJob[]): Promise<number[]> {
    const ids = await this.writes.run(() => this.store.enqueue(jobs, this.now()));
    this.onCommit(ids.length);
    return ids;
  }

  /** Commits a staged batch (its own transaction); waiting workers hear of the new jobs like any enqueue. */
  commitStaged(id: string, parts: number): BatchCommit {
    const r = this.store.commitBatch(id, parts, this.now());
    if (r.kind === 'committed' && r.fresh && r.ids.length > 0) this.onCommit(r.ids.length);
    return r;
  }
}
