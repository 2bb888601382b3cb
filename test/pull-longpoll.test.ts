import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { iteratedSha512 } from '../src/job/hash.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { CLIENT_TOKEN, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

/** Two managers, peers of each other, and clients for both roles. */
describe('POST /pullCompleted long-poll (waitMs) and local', () => {
  const dirs = [tempDir(), tempDir()];
  let m1: RunningManager;
  let m2: RunningManager;
  let c1: ManagerClient;
  let c2: ManagerClient;
  let w1: ManagerClient;
  let w2: ManagerClient;

  before(async () => {
    m2 = await startTestManager(dirs[1]!.dir, { index: 2 });
    m1 = await startTestManager(dirs[0]!.dir, { index: 1, peers: [{ index: 2, url: m2.url }] });
    c1 = new ManagerClient({ endpoint: m1.url, token: CLIENT_TOKEN, timeoutMs: 5000 });
    c2 = new ManagerClient({ endpoint: m2.url, token: CLIENT_TOKEN, timeoutMs: 5000 });
    w1 = new ManagerClient({ endpoint: m1.url, token: WORKER_TOKEN, timeoutMs: 5000 });
    w2 = new ManagerClient({ endpoint: m2.url, token: WORKER_TOKEN, timeoutMs: 5000 });
  });
  after(async () => {
    for (const c of [c1, c2, w1, w2]) await c.close();
    await m1.close();
    await m2.close();
    for (const d of dirs) d.cleanup();
  });

  /** Enqueue one job on `client`'s manager and complete it there as a worker would. */
  async function completeOne(client: ManagerClient, worker: ManagerClient, data: string): Promise<{ id: number; result: string }> {
    const id = await client.enqueue(data, 3);
    const lease = await worker.lease({ workerId: 'test-worker', max: 1, waitMs: 0 });
    assert.deepEqual(lease.jobs.map((j) => j.id), [id]);
    const result = iteratedSha512(data, 3);
    assert.deepEqual((await worker.complete({ workerId: 'test-worker', results: [{ id, result }] })).accepted, [id]);
    return { id, result };
  }

  test('a waiting pull answers when a result is delivered, well before its wait ends', async () => {
    // Bounded far below waitMs: a pull that did not wake up would be cut off and fail.
    const pending = c1.pullCompleted(10, { waitMs: 20_000, signal: AbortSignal.timeout(5_000) });
    await waitFor('the pull to park', () => m1.ctx.resultWaiters.size === 1);
    const done = await completeOne(c1, w1, 'wake me');
    assert.deepEqual(await pending, [done]);
  });

  test('with nothing to hand out it answers [] once the wait is over', async () => {
    assert.deepEqual(await c1.pullCompleted(10, { waitMs: 150 }), []);
  });

  test('a pull abandoned while waiting takes nothing: the result stays for the next one', async () => {
    const stop = new AbortController();
    const pending = c1.pullCompleted(10, { waitMs: 20_000, signal: stop.signal });
    await waitFor('the pull to park', () => m1.ctx.resultWaiters.size === 1);
    stop.abort();
    await assert.rejects(pending);
    await waitFor('the server to notice', () => m1.ctx.resultWaiters.size === 0);
    const done = await completeOne(c1, w1, 'keep me');
    assert.deepEqual(await c1.pullCompleted(10), [done]);
  });

  test("local=1 hands out only this manager's results; without it, peers fill the answer", async () => {
    const there = await completeOne(c2, w2, 'on manager 2');
    assert.deepEqual(await c1.pullCompleted(10, { local: true }), []);
    assert.deepEqual(await c1.pullCompleted(10, { local: true, waitMs: 100 }), [], 'a local long-poll does not take them either');
    assert.deepEqual(await c1.pullCompleted(10), [there]);
    assert.deepEqual(await c2.pullCompleted(10), [], 'handed out once');
  });
});
