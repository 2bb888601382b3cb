import { ApiError, type ManagerClient } from '../client/manager-client.js';
import { DynworkError } from '../errors.js';
import { enqueueJobs, failover, type ConnectedCluster } from './connect.js';
import type { JobPart } from './job-parts.js';

/** Names job `i` of the whole input for messages ("line 23456", "argument 2"). */
export type JobLabel = (i: number) => string;

/**
 * Enqueues every part, all or nothing, and answers the ids in input order.
 * One part goes as a plain batch PUT /enqueue; more are staged on ONE manager
 * (chosen as every enqueue is: the next only when no connection could be
 * made) and enqueued by a single commit. A bad job anywhere commits nothing.
 */
export async function enqueueParts(c: ConnectedCluster, parts: AsyncIterable<JobPart>, label: JobLabel, onSent?: (jobs: number) => void): Promise<number[]> {
  const it = parts[Symbol.asyncIterator]();
  try {
    const first = await it.next();
    if (first.done) return [];
    const second = await it.next();
    if (second.done) return await explained(enqueueJobs(c, first.value.jobs), first.value.start, label);

    const { manager, batch } = await failover(c, async (m) => ({ manager: m, batch: await m.createBatch() }));
    let n = 0;
    let total = 0;
    const put = async (p: JobPart): Promise<void> => {
      n++;
      await explained(manager.putBatchPart(batch, n, p.jobs), p.start, label);
      total += p.jobs.length;
      onSent?.(total);
    };
    await put(first.value);
    await put(second.value);
    for (let next = await it.next(); !next.done; next = await it.next()) await put(next.value);
    return await commit(manager, batch, n, total);
  } finally {
    await it.return?.();
  }
}

async function commit(manager: ManagerClient, batch: string, parts: number, total: number): Promise<number[]> {
  try {
    return await manager.commitBatch(batch, parts, total);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The commit may have happened: committing the same batch again is safe and answers its ids.
    throw new DynworkError((err as DynworkError).code ?? 'internal', `${(err as Error).message}; the jobs may or may not be enqueued`, {
      cause: err,
      hint: `ask again: curl -X POST ${manager.url}/enqueue/batches/${batch}/commit -H 'Authorization: Bearer …' -d '{"parts":${parts}}' answers the ids if it was`,
    });
  }
}

/** A manager's "job i: …" error about one job of a part, retold with that job's place in the whole input. */
async function explained<T>(call: Promise<T>, start: number, label: JobLabel): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const m = err instanceof ApiError ? /^job (\d+): ([\s\S]*)$/.exec(err.message) : null;
    if (!m) throw err;
    throw new ApiError((err as ApiError).status, (err as ApiError).apiCode, `${label(start + Number(m[1]))}: ${m[2]}; nothing was enqueued`, {
      cause: err,
      hint: 'fix that job and run the same command again',
    });
  }
}
