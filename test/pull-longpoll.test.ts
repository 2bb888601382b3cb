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
    assert.deepEqual(
      lease.jobs.map((j) => j.id),
      [id],
    );
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

  test('a receipt pull holds results until acknowledged, at any manager, and pulls them once', async () => {
    const here = await completeOne(c1, w1, 'receipt here');
    const there = await completeOne(c2, w2, 'receipt there');
    const r = await c1.pullLeased(10, { leaseMs: 60_000 });
    assert.deepEqual(r.results, [here, there], "this manager's first, then its peer's");
    assert.match(r.receipt ?? '', /^1:[A-Za-z0-9_-]{22},2:[A-Za-z0-9_-]{22}$/);
    // Held: no other reader gets them, and they are not pulled yet.
    assert.deepEqual(await c2.pullLeased(10, { leaseMs: 60_000 }), { receipt: null, leaseMs: 60_000, results: [] });
    assert.equal((await c1.getJob(here.id)).status, 'completed');
    // Manager 1 settles manager 2's part at manager 2.
    assert.equal(await c1.ackPulled(r.receipt!), 2);
    assert.equal(await c1.ackPulled(r.receipt!), 0, 'a second acknowledgement takes nothing');
    assert.equal((await c1.getJob(here.id)).status, 'pulled');
    assert.equal((await c2.getJob(there.id)).status, 'pulled');
  });

  test('released or run out, held results are handed out again', async () => {
    const one = await completeOne(c1, w1, 'release me');
    const r = await c1.pullLeased(10, { leaseMs: 60_000 });
    assert.deepEqual(r.results, [one]);
    assert.equal(await c1.releasePulled(r.receipt!), 1);
    const again = await c1.pullLeased(10, { leaseMs: 300 });
    assert.deepEqual(again.results, [one]);
    // The sweep returns it once the 300 ms lease is over; the late acknowledgement then takes nothing.
    await waitFor('the receipt to run out', () => m1.ctx.store.counts().completed === 1);
    assert.equal(await c1.ackPulled(again.receipt!), 0);
    assert.deepEqual(await c1.pullCompleted(10), [one]);
  });

  test('bad receipt calls are 400s that say what to send', async () => {
    const call = (path: string, body?: string) =>
      fetch(m1.url + path, { method: 'POST', headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' }, ...(body ? { body } : {}) });
    for (const [path, body, code] of [
      ['/pullCompleted/lease?top=1', undefined, 'invalid_leaseMs'],
      ['/pullCompleted/lease?top=1&leaseMs=0', undefined, 'invalid_leaseMs'],
      ['/pullCompleted/lease?top=1&leaseMs=3600001', undefined, 'invalid_leaseMs'],
      ['/pullCompleted/ack', '{"receipt":"nope"}', 'invalid_receipt'],
      ['/pullCompleted/ack', '{}', 'invalid_receipt'],
      ['/pullCompleted/release', '["1:AAAAAAAAAAAAAAAAAAAAAA"]', 'invalid_receipt'],
    ] as const) {
      const res = await call(path, body);
      assert.equal(res.status, 400, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, code, path);
    }
  });
});

describe('a woken /pullCompleted lingers for the results still running', () => {
  const dir = tempDir();
  let m: RunningManager;
  let client: ManagerClient;
  let worker: ManagerClient;
  before(async () => {
    // A linger far longer than the pull may take below: only its early end lets the pull answer.
    m = await startTestManager(dir.dir, { pullLingerMs: 60_000 });
    client = new ManagerClient({ endpoint: m.url, token: CLIENT_TOKEN, timeoutMs: 30_000 });
    worker = new ManagerClient({ endpoint: m.url, token: WORKER_TOKEN, timeoutMs: 5_000 });
  });
  after(async () => {
    await client.close();
    await worker.close();
    await m.close();
    dir.cleanup();
  });

  test('and answers with all of them as soon as the last one is in', async () => {
    const jobs = [
      { data: 'first', iterations: 2 },
      { data: 'second', iterations: 2 },
    ];
    const ids = await client.enqueueBatch(jobs);
    assert.equal((await worker.lease({ workerId: 'w', max: 2, waitMs: 0 })).jobs.length, 2);
    const pending = client.pullCompleted(10, { waitMs: 20_000, local: true, signal: AbortSignal.timeout(10_000) });
    await waitFor('the pull to park', () => m.ctx.resultWaiters.size === 1);
    const results = jobs.map((j, i) => ({ id: ids[i]!, result: iteratedSha512(j.data, j.iterations) }));
    await worker.complete({ workerId: 'w', results: [results[0]!] });
    // Woken by the first result, the pull waits for the second (the worker still holds it).
    await waitFor('the pull to linger', () => m.ctx.resultWaiters.size === 1);
    await worker.complete({ workerId: 'w', results: [results[1]!] });
    assert.deepEqual(
      (await pending).sort((a, b) => a.id - b.id),
      results,
    );
  });
});
