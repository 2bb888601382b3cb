/**
 * Fair lease shares: the pure rule (leaseRoom), who counts as competing
 * (LeaseAskers), and a real manager holding a worker at its share of the
 * backlog over HTTP until it completes work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { LeaseAskers, leaseRoom } from '../src/runtime/manager/lease-shares.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { CLIENT_TOKEN, WORKER_TOKEN, startTestManager, tempDir, waitFor, within } from './helpers.js';

describe('leaseRoom', () => {
  const room = (worker: string, queuedIterations: number, held: Record<string, number>, threads: Record<string, number | null>, pool = Object.keys(threads)) =>
    leaseRoom({
      worker,
      queuedIterations,
      holdings: new Map(Object.entries(held).map(([w, iterations]) => [w, { iterations }])),
      pool: new Set(pool),
      threadsOf: (w) => threads[w] ?? null,
    });

  test('equal workers split the work in hand (queued and leased) evenly, less what each holds', () => {
    assert.equal(room('a', 100, {}, { a: 5, b: 5 }), 50);
    assert.equal(room('b', 60, { a: 40 }, { a: 5, b: 5 }), 50);
    assert.equal(room('a', 60, { a: 40 }, { a: 5, b: 5 }), 10);
    assert.equal(room('a', 20, { a: 80 }, { a: 5, b: 5 }), -30, 'holding more than its share: no room');
  });

  test('shares follow the hashing threads; a worker not yet heard from weighs as the mean of the known', () => {
    assert.equal(room('a', 100, {}, { a: 3, b: 1 }), 75);
    assert.equal(room('b', 100, {}, { a: 3, b: 1 }), 25);
    // c unknown weighs 2 (the mean of 3 and 1): a gets 3/6.
    assert.equal(room('a', 120, {}, { a: 3, b: 1, c: null }), 60);
    assert.equal(room('c', 120, {}, { a: 3, b: 1, c: null }), 40);
    // Nobody known: all alike.
    assert.equal(room('a', 90, {}, { a: null, b: null, c: null }), 30);
  });

  test('a worker alone may take everything; a holder counts even when it is not asking', () => {
    assert.equal(room('a', 100, { a: 1_000 }, { a: 5 }), Infinity);
    assert.equal(room('a', 100, { b: 100 }, { a: 1, b: 1 }, ['a', 'b']), 100);
  });
});

describe('LeaseAskers', () => {
  test('a worker competes while its call is open, and for a while after the last one', () => {
    const askers = new LeaseAskers(2_000);
    askers.begin('parked', 0);
    askers.begin('quick', 0);
    askers.end('quick', 100);
    assert.deepEqual([...askers.pool([], 1_000)].sort(), ['parked', 'quick']);
    assert.deepEqual([...askers.pool(['holder'], 2_100)].sort(), ['holder', 'parked', 'quick']);
    assert.deepEqual([...askers.pool([], 2_101)], ['parked'], 'quick has not asked for over 2 s');
    askers.end('parked', 30_000);
    assert.deepEqual([...askers.pool([], 32_001)], []);
  });
});

describe('a manager leases each worker its share', () => {
  let tmp: ReturnType<typeof tempDir>;
  let mgr: RunningManager;
  let client: ManagerClient;
  let worker: ManagerClient;
  before(async () => {
    tmp = tempDir();
    mgr = await startTestManager(tmp.dir);
    client = new ManagerClient({ endpoint: mgr.url, token: CLIENT_TOKEN });
    worker = new ManagerClient({ endpoint: mgr.url, token: WORKER_TOKEN, timeoutMs: 30_000 });
  });
  after(async () => {
    await client.close();
    await worker.close();
    await mgr.close();
    tmp.cleanup();
  });

  test('a worker with three threads gets three quarters, is held there until it completes, and one with one thread gets the rest', async () => {
    // The reported rates would split it the other way: they do not count.
    await worker.heartbeat({ workerId: 'fast', ids: [], hashRate: 1_000_000, threads: 3, busy: 0 });
    await worker.heartbeat({ workerId: 'slow', ids: [], hashRate: 5_000_000, threads: 1, busy: 0 });
    await client.enqueueBatch(Array.from({ length: 200 }, (_, i) => ({ data: `share ${i}`, iterations: 1_000 })));

    const slowFirst = await worker.lease({ workerId: 'slow', max: 1, maxIterations: Number.MAX_SAFE_INTEGER });
    assert.equal(slowFirst.jobs.length, 1);
    const everything = { max: 1_000, maxIterations: Number.MAX_SAFE_INTEGER };
    const fast = await worker.lease({ workerId: 'fast', ...everything });
    assert.equal(fast.jobs.length, 150, 'three quarters of the 200 jobs in hand');
    assert.equal((await worker.lease({ workerId: 'fast', ...everything })).jobs.length, 0, 'held at its share with 49 jobs queued');
    assert.equal((await client.status()).queue.queued, 49);

    // Parked at its share, the fast worker is woken by its own completions.
    const parked = worker.lease({ workerId: 'fast', ...everything, waitMs: 20_000 });
    await waitFor('the lease call to park', () => mgr.ctx.waiters.size === 1);
    const done = fast.jobs.slice(0, 20).map((j) => ({ id: j.id, result: 'a'.repeat(128) }));
    assert.equal((await worker.complete({ workerId: 'fast', results: done })).accepted.length, 20);
    // 180 jobs in hand now: its share is 135, it holds 130.
    // Woken, not answered at its deadline (20 s; a call that took that long would find room then too).
    assert.equal((await within(parked, 10_000, 'the parked lease to wake')).jobs.length, 5);

    const slow = await worker.lease({ workerId: 'slow', ...everything });
    assert.equal(slow.jobs.length, 44, 'the slow worker gets all that is left');
    assert.equal((await client.status()).queue.queued, 0);
  });
});
