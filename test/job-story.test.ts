import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError, ManagerClient } from '../src/client/manager-client.js';
import { iteratedSha512 } from '../src/job/hash.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { CLIENT_TOKEN, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

/** Every job explains itself: who holds it, until when, each attempt and how it ended; and it can be cancelled or retried. */
describe('a job tells its story, and can be cancelled and retried', () => {
  const dirs = [tempDir(), tempDir()];
  let m1: RunningManager;
  let m2: RunningManager;
  let c1: ManagerClient;
  let w2: ManagerClient;

  before(async () => {
    // Short leases and one attempt before a job fails, so a story unfolds in well under a second.
    m2 = await startTestManager(dirs[1]!.dir, { index: 2, leaseMs: 300, maxAttempts: 2, sweepIntervalMs: 50 });
    m1 = await startTestManager(dirs[0]!.dir, { index: 1, peers: [{ index: 2, url: m2.url }] });
    c1 = new ManagerClient({ endpoint: m1.url, token: CLIENT_TOKEN, timeoutMs: 5000 });
    w2 = new ManagerClient({ endpoint: m2.url, token: WORKER_TOKEN, timeoutMs: 5000 });
  });
  after(async () => {
    for (const c of [c1, w2]) await c.close();
    await m1.close();
    await m2.close();
    for (const d of dirs) d.cleanup();
  });

  const enqueueOn2 = async (data: string): Promise<number> => {
    const c2 = new ManagerClient({ endpoint: m2.url, token: CLIENT_TOKEN, timeoutMs: 5000 });
    try {
      return await c2.enqueue(data, 2);
    } finally {
      await c2.close();
    }
  };

  test('through its peer: the lease holder and expiry, each attempt with its worker and ending', async () => {
    const id = await enqueueOn2('story');
    assert.deepEqual(
      (await w2.lease({ workerId: 'worker-a', max: 1 })).jobs.map((j) => j.id),
      [id],
    );
    const running = await c1.getJob(id);
    assert.equal(running.status, 'running');
    assert.equal(running.manager, 2);
    assert.equal(running.lease?.workerId, 'worker-a');
    assert.ok(Date.parse(running.lease.expiresAt) > Date.parse(running.enqueuedAt));
    assert.deepEqual(
      running.history?.map((a) => [a.attempt, a.workerId, a.outcome]),
      [[1, 'worker-a', 'running']],
    );

    // worker-a goes silent: its lease runs out and worker-b finishes the job.
    await waitFor('the lease to expire', async () => (await c1.getJob(id)).status === 'queued');
    assert.deepEqual(
      (await w2.lease({ workerId: 'worker-b', max: 1 })).jobs.map((j) => j.id),
      [id],
    );
    await w2.complete({ workerId: 'worker-b', results: [{ id, result: iteratedSha512('story', 2) }] });
    const done = await c1.getJob(id);
    assert.equal(done.status, 'completed');
    assert.equal(done.lease, null);
    assert.equal(done.attempts, 2);
    assert.deepEqual(
      done.history?.map((a) => [a.attempt, a.workerId, a.outcome]),
      [
        [1, 'worker-a', 'lease expired'],
        [2, 'worker-b', 'completed'],
      ],
    );
    assert.ok(done.history.every((a) => a.endedAt !== null));
  });

  test('a poison job fails, is listed, and retry --failed queues it again with its history kept', async () => {
    const id = await enqueueOn2('poison');
    for (const w of ['worker-c', 'worker-d']) {
      await waitFor(`a lease for ${w}`, async () => (await w2.lease({ workerId: w, max: 1 })).jobs.length === 1);
      await waitFor('the lease to expire', async () => (await c1.getJob(id)).status !== 'running');
    }
    const failed = await c1.getJob(id);
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /lease expired/);
    assert.equal(failed.history?.at(-1)?.outcome, 'lease expired; job failed after 2 attempts');
    assert.deepEqual(
      (await c1.listJobs('failed')).map((j) => j.id),
      [id],
    );
    assert.deepEqual(await c1.retryFailed(), [id]);
    assert.equal((await c1.getJob(id)).status, 'queued');
    assert.deepEqual(await c1.listJobs('failed'), []);
    // Its attempt count starts over (two more leases before it fails), its history does not.
    const lease = await w2.lease({ workerId: 'worker-e', max: 1 });
    assert.deepEqual(
      lease.jobs.map((j) => j.id),
      [id],
    );
    await w2.complete({ workerId: 'worker-e', results: [{ id, result: iteratedSha512('poison', 2) }] });
    assert.deepEqual(
      (await c1.getJob(id)).history?.map((a) => a.workerId),
      ['worker-c', 'worker-d', 'worker-e'],
    );
  });

  test('cancel: a queued job is never handed out; a running one is taken from its worker; finished ones refuse', async () => {
    const queued = await enqueueOn2('cancel me');
    assert.equal((await c1.cancelJob(queued)).status, 'cancelled');
    assert.equal((await c1.cancelJob(queued)).status, 'cancelled', 'cancelling twice is one cancel');
    assert.deepEqual((await w2.lease({ workerId: 'worker-f', max: 10 })).jobs, []);
    assert.deepEqual(
      (await c1.listJobs('cancelled')).map((j) => j.id),
      [queued],
    );

    const running = await enqueueOn2('stop me');
    await w2.lease({ workerId: 'worker-g', max: 1 });
    assert.equal((await c1.cancelJob(running)).status, 'cancelled');
    const hb = await w2.heartbeat({ workerId: 'worker-g', ids: [running], threads: 1, busy: 1 });
    assert.deepEqual(hb.lost, [running], 'the worker hears it lost the job');
    const late = await w2.complete({ workerId: 'worker-g', results: [{ id: running, result: iteratedSha512('stop me', 2) }] });
    assert.deepEqual(late.rejected, [running]);
    assert.equal((await c1.getJob(running)).history?.[0]?.outcome, 'cancelled');

    // Retry brings a cancelled job back; a queued job cannot be retried, a completed one cannot be cancelled.
    assert.equal((await c1.retryJob(queued)).status, 'queued');
    await assert.rejects(c1.retryJob(queued), (e: unknown) => e instanceof ApiError && e.status === 409 && /it is queued/.test(e.message));
    assert.deepEqual(
      (await w2.lease({ workerId: 'worker-h', max: 1 })).jobs.map((j) => j.id),
      [queued],
    );
    await w2.complete({ workerId: 'worker-h', results: [{ id: queued, result: iteratedSha512('cancel me', 2) }] });
    await assert.rejects(c1.cancelJob(queued), (e: unknown) => e instanceof ApiError && e.status === 409 && /it is completed/.test(e.message));
  });

  test('an id whose manager is not in the cluster is a 404, not a 503', async () => {
    for (const call of [() => c1.getJob(5007), () => c1.cancelJob(5007), () => c1.retryJob(5007)]) {
      await assert.rejects(call(), (e: unknown) => e instanceof ApiError && e.status === 404 && /manager \(7\) is not part of this cluster/.test(e.message));
    }
  });
});
