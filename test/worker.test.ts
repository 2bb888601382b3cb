/**
 * The worker against real managers (startManager, in this process, on
 * 127.0.0.1 with their own SQLite files), jobs checked against
 * the repository's vectors (test/fixtures/vectors.json). Nothing sleeps for a condition: every wait polls with a
 * bounded deadline.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { LANES, choosePath, iteratedSha512 } from '../src/job/hash.js';
import { workerConfigSchema, type WorkerConfig } from '../src/settings/worker.js';
import { endpointFile, startManager, type RunningManager } from '../src/runtime/manager/server.js';
import { ownerOf } from '../src/protocol/index.js';
import { FLUSH_BATCH, FLUSH_DELAY_MS, HOLD_SECONDS, LEASE_BATCH, MAX_CHUNK_JOBS, MAX_HELD_JOBS, chunkTarget, flushDelay, leaseAsk, takeChunk } from '../src/runtime/worker/plan.js';
import { startWorker, type RunningWorker } from '../src/runtime/worker/worker.js';
import { CLIENT_TOKEN, WORKER_TOKEN, managerConfig, memoryLogger, tempDir, vectors, waitFor, within } from './helpers.js';

interface M {
  index: number;
  dir: string;
  mgr: RunningManager;
  client: ManagerClient;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  // Last started, first stopped: workers before managers before directories.
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function manager(index: number, dir?: string): Promise<M> {
  let d = dir;
  if (!d) {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    d = tmp.dir;
  }
  // A short close bound: a closing manager keeps answering on open keep-alive
  // connections, so close() would otherwise wait its full 10 s for the worker's.
  const mgr = await startManager(managerConfig(d, { index }), { logger: memoryLogger().logger, closeTimeoutMs: 1_000 });
  const client = new ManagerClient({ endpoint: mgr.url, token: CLIENT_TOKEN, timeoutMs: 5_000 });
  const m = { index, dir: d, mgr, client };
  cleanups.push(async () => {
    await m.client.close();
    await m.mgr.close();
  });
  return m;
}

function worker(ms: M[], over: Partial<WorkerConfig> = {}, logger = memoryLogger().logger): RunningWorker {
  const config = workerConfigSchema.parse({
    workerId: `test-worker-${Math.random().toString(36).slice(2, 8)}`,
    managers: ms.map((m) => ({ index: m.index, url: m.mgr.url, endpointFile: endpointFile(m.dir) })),
    workerToken: WORKER_TOKEN,
    threads: 2,
    idleTimeoutMs: 60_000,
    noManagerTimeoutMs: 60_000,
    maxLifetimeMs: 0,
    leaseWaitMs: 2_000,
    requestTimeoutMs: 2_000,
    ...over,
  });
  const w = startWorker(config, { logger });
  cleanups.push(() => w.close());
  return w;
}

describe('worker', () => {
  test('two managers: every job right, each result delivered to its owner, heartbeats to both, then an idle exit', async () => {
    const m1 = await manager(1);
    const m2 = await manager(2);
    const vs = vectors();
    const expected = new Map<number, string>();
    // The vectors on both managers, plus many tiny jobs (chunking) and a few heavier ones.
    for (const m of [m1, m2]) {
      const ids = await m.client.enqueueBatch(vs.map((v) => ({ data: v.data, iterations: v.iterations })));
      ids.forEach((id, i) => expected.set(id, vs[i]!.result));
    }
    const tiny = Array.from({ length: 600 }, (_, i) => ({ data: `tiny-secret-data-${i}`, iterations: 1 + (i % 3) }));
    const tinyIds = await m2.client.enqueueBatch(tiny);
    tinyIds.forEach((id, i) => expected.set(id, iteratedSha512(tiny[i]!.data, tiny[i]!.iterations)));
    const heavy = [
      { data: 'heavy-a', iterations: 200_000 },
      { data: 'heavy-b', iterations: 150_000 },
    ];
    const heavyIds = await m1.client.enqueueBatch(heavy);
    heavyIds.forEach((id, i) => expected.set(id, iteratedSha512(heavy[i]!.data, heavy[i]!.iterations)));

    const { logger, lines } = memoryLogger();
    const w = worker([m1, m2], { idleTimeoutMs: 1_500 }, logger);
    const { reason } = await within(w.done, 60_000, 'the worker to go idle and exit');
    assert.equal(reason, 'idle');
    assert.equal(w.stats().delivered, expected.size);

    for (const [id, result] of expected) {
      const owner = ownerOf(id) === 1 ? m1 : m2;
      const job = await owner.client.getJob(id);
      assert.equal(job.status, 'completed', `job ${id}`);
      assert.equal(job.result, result, `job ${id}`);
    }
    // Heartbeats reached both managers, with the measured rate.
    for (const m of [m1, m2]) {
      const seen = (await m.client.status()).workers.find((x) => x.workerId === w.workerId);
      assert.ok(seen, `manager ${m.index} saw the worker`);
      assert.equal(seen.threads, 2);
      assert.ok((seen.hashRate ?? 0) > 0);
    }
    // Structured logs, with job ids, and never data, results or the token.
    assert.ok(lines.length > 0);
    for (const l of lines) JSON.parse(l);
    assert.ok(lines.some((l) => l.includes('"jobId"')));
    const text = lines.join('');
    assert.ok(!text.includes(WORKER_TOKEN), 'token logged');
    assert.ok(!text.includes('tiny-secret-data'), 'job data logged');
    for (const r of expected.values()) assert.ok(!text.includes(r), 'a result was logged');
  });

  test('heavy jobs are not hoarded beyond what fills the lanes: a second worker gets some', async () => {
    const m1 = await manager(1);
    // One thread's lanes plus four more: more work than the first worker asks for (HOLD_SECONDS of it) unless a thread hashes 28 M steps a second.
    const jobs = Array.from({ length: LANES[choosePath()] + 4 }, (_, i) => ({ data: `big ${i}`, iterations: 2_000_000 }));
    const ids = await m1.client.enqueueBatch(jobs);
    const a = worker([m1], { threads: 1, idleTimeoutMs: 800 });
    await waitFor('the first worker to lease', async () => (await m1.client.status()).queue.running > 0);
    const b = worker([m1], { threads: 1, idleTimeoutMs: 800 });
    const [ra, rb] = await within(Promise.all([a.done, b.done]), 60_000, 'both workers to finish');
    assert.equal(ra.reason, 'idle');
    assert.equal(rb.reason, 'idle');
    assert.equal(a.stats().delivered + b.stats().delivered, jobs.length);
    assert.ok(b.stats().delivered >= 1, `the second worker got ${b.stats().delivered} jobs`);
    for (const [i, id] of ids.entries()) assert.equal((await m1.client.getJob(id)).result, iteratedSha512(jobs[i]!.data, jobs[i]!.iterations));
  });

  test('results of a worker with more jobs waiting go in batches; the last ones go at once', async () => {
    const m1 = await manager(1);
    // Little enough to come in the worker's first lease (it asks for about a
    // second of work; even a slow machine hashes 160,000 steps a second), so
    // the only thing that decides how results are grouped is the batching rule.
    const jobs = Array.from({ length: 8 }, (_, i) => ({ data: `batched-${i}`, iterations: 20_000 }));
    const ids = await m1.client.enqueueBatch(jobs);
    const completeCalls = () =>
      m1.mgr.ctx.metrics.httpDuration.get().then((m) => m.values.filter((v) => v.metricName?.endsWith('_count') && v.labels.route === '/internal/complete').reduce((n, v) => n + v.value, 0));
    // A batching delay far longer than the wait below: had the last results
    // waited for it, the wait would fail. However slow the machine, results
    // go in one call once nothing is queued here (two, when the last job
    // reached its thread before the one before it reported).
    worker([m1], { threads: 1, resultBatchMs: 60_000 });
    await waitFor('every result', async () => m1.mgr.ctx.store.counts().completed === ids.length, 30_000, 20);
    const calls = await completeCalls();
    assert.ok(calls >= 1 && calls <= 2, `${ids.length} results in ${calls} complete calls`);
    for (const [i, id] of ids.entries()) assert.equal((await m1.client.getJob(id)).result, iteratedSha512(jobs[i]!.data, jobs[i]!.iterations));
  });

  test('no manager answering: exits with no-manager after the timeout', async () => {
    const m1 = await manager(1);
    const m2 = await manager(2);
    const w = worker([m1, m2], { noManagerTimeoutMs: 800 });
    await waitFor('heartbeats to reach both managers', async () => {
      const [s1, s2] = await Promise.all([m1.client.status(), m2.client.status()]);
      return s1.workers.length > 0 && s2.workers.length > 0;
    });
    await m1.mgr.close();
    await m2.mgr.close();
    const { reason } = await within(w.done, 15_000, 'the no-manager exit');
    assert.equal(reason, 'no-manager');
  });

  test('no manager reachable for a while: it keeps its undelivered result (no idle exit), backs off, and delivers once its owner is back', async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    let m1 = await manager(1, tmp.dir);
    const iterations = 2_000_000;
    const [id] = await m1.client.enqueueBatch([{ data: 'held through an outage', iterations }]);
    const { logger, lines } = memoryLogger();
    const w = worker([m1], { threads: 1, idleTimeoutMs: 300, noManagerTimeoutMs: 120_000 }, logger);
    let exited = false;
    void w.done.then(() => (exited = true));
    await waitFor('the job to run', async () => (await m1.client.getJob(id!)).status === 'running');
    await m1.mgr.close();
    await waitFor('the worker to back off', () => lines.some((l) => l.includes('backing off')), 30_000);
    await waitFor('the result to be computed and held', () => w.stats().undelivered > 0, 30_000);
    assert.equal(exited, false, 'exited while holding an undelivered result');
    m1 = await manager(1, tmp.dir);
    const job = await waitFor(
      'the result delivered after the outage',
      async () => {
        const j = await m1.client.getJob(id!);
        return j.status === 'completed' ? j : null;
      },
      60_000,
    );
    assert.equal(job.result, iteratedSha512('held through an outage', iterations));
  });

  test('close() finishes what it holds (running and waiting) and delivers it', async () => {
    const m1 = await manager(1);
    // One thread: the small job, leased with the big one, waits its turn in the worker.
    const [big, small] = await m1.client.enqueueBatch([
      { data: 'drain me', iterations: 400_000 },
      { data: 'waiting', iterations: 3 },
    ]);
    const w = worker([m1], { threads: 1 });
    await waitFor('the big job to run', async () => (await m1.client.getJob(big!)).status === 'running');
    const smallWasLeased = (await m1.client.getJob(small!)).status === 'running';
    await within(w.close(), 30_000, 'close()');
    assert.equal((await w.done).reason, 'signal');
    const [j1, j2] = await Promise.all([m1.client.getJob(big!), m1.client.getJob(small!)]);
    assert.equal(j1.status, 'completed');
    assert.equal(j1.result, iteratedSha512('drain me', 400_000));
    // Both come in one lease unless this machine hashes under 0.4 M/s (then the worker holds only the big one).
    if (smallWasLeased) {
      assert.equal(j2.status, 'completed');
      assert.equal(j2.result, iteratedSha512('waiting', 3));
    }
    // Nothing the worker leased is left stranded.
    assert.equal((await m1.client.status()).queue.running, 0);
  });

  test('lifetime: stops leasing, delivers what it holds, exits', async () => {
    const m1 = await manager(1);
    const [id] = await m1.client.enqueueBatch([{ data: 'lifetime', iterations: 1_500_000 }]);
    const w = worker([m1], { threads: 1, maxLifetimeMs: 400 });
    const { reason } = await within(w.done, 30_000, 'the lifetime exit');
    assert.equal(reason, 'lifetime');
    const job = await m1.client.getJob(id!);
    assert.equal(job.status, 'completed');
    assert.equal(job.result, iteratedSha512('lifetime', 1_500_000));
  });

  test('an owner that restarts on another port still gets its result (endpoint file, retries)', async () => {
    const m1 = await manager(1);
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    let m2 = await manager(2, tmp.dir);
    const iterations = 2_500_000;
    const [id] = await m2.client.enqueueBatch([{ data: 'moving owner', iterations }]);
    const { logger, lines } = memoryLogger();
    worker([m1, m2], { threads: 1 }, logger);
    await waitFor('the job to run', async () => (await m2.client.getJob(id!)).status === 'running');
    const oldUrl = m2.mgr.url;
    await m2.mgr.close();
    m2 = await manager(2, tmp.dir);
    assert.equal(ownerOf(id!), 2);
    const job = await waitFor(
      'the result at the restarted owner',
      async () => {
        const j = await m2.client.getJob(id!);
        return j.status === 'completed' ? j : null;
      },
      30_000,
    );
    assert.equal(job.result, iteratedSha512('moving owner', iterations));
    if (m2.mgr.url !== oldUrl)
      assert.ok(
        lines.some((l) => l.includes('manager moved')),
        'the worker followed the endpoint file',
      );
  });
});

describe('worker planning', () => {
  const base = { rate: 4_000_000, threads: 2, heldJobs: 0, heldWork: 0, queuedJobs: 0, runningChunks: 0, undelivered: 0, managers: 1, lanes: 1 };

  // What `base` holds when full: HOLD_SECONDS on each of 2 threads at 4 M/s.
  const capacity = HOLD_SECONDS * 2 * 4_000_000;

  test('an empty worker asks for about HOLD_SECONDS of work per thread, small jobs in a batch', () => {
    assert.deepEqual(leaseAsk(base), { max: LEASE_BATCH, maxIterations: capacity });
    // Shared between the managers it long-polls at once.
    assert.deepEqual(leaseAsk({ ...base, managers: 2 }), { max: LEASE_BATCH, maxIterations: capacity / 2 });
  });

  test('heavy work is topped up only once half the hold has run down', () => {
    assert.equal(leaseAsk({ ...base, heldJobs: 6, heldWork: capacity * 0.6, queuedJobs: 4, runningChunks: 2 }), null, '60 % held: no call');
    assert.deepEqual(leaseAsk({ ...base, heldJobs: 4, heldWork: capacity * 0.4, queuedJobs: 2, runningChunks: 2 }), { max: LEASE_BATCH, maxIterations: capacity * 0.6 }, '40 % held: top up');
  });

  test('a full worker asks for nothing, unless a thread would idle: then one job', () => {
    assert.equal(leaseAsk({ ...base, heldJobs: 1, heldWork: capacity, queuedJobs: 1, runningChunks: 2 }), null);
    assert.deepEqual(leaseAsk({ ...base, heldJobs: 1, heldWork: capacity, queuedJobs: 0, runningChunks: 1 }), { max: 1, maxIterations: 1 });
    assert.equal(leaseAsk({ ...base, heldJobs: MAX_HELD_JOBS, heldWork: 10 }), null);
    assert.equal(leaseAsk({ ...base, undelivered: 1_000_000 }), null);
  });

  test('every SIMD lane gets a chain, however long, and no more than that', () => {
    const full = { ...base, lanes: 8, heldWork: capacity, runningChunks: 2 };
    assert.deepEqual(leaseAsk({ ...full, heldJobs: 3, queuedJobs: 1 }), { max: 13, maxIterations: Number.MAX_SAFE_INTEGER }, '16 lanes, 3 chains');
    assert.equal(leaseAsk({ ...full, heldJobs: 16, queuedJobs: 1 }), null, 'every lane busy');
  });

  test('results wait for company only while more jobs wait here; many go at once', () => {
    assert.equal(flushDelay(1, 3, 250), 250, 'jobs still queued here: gather results');
    assert.equal(flushDelay(1, 0, 250), FLUSH_DELAY_MS, 'nothing queued: the last result leaves at once');
    assert.equal(flushDelay(FLUSH_BATCH, 3, 250), 0, 'a full batch leaves at once');
  });

  test('chunks: tiny jobs together, a big job alone, dropped jobs skipped', () => {
    type J = { iterations: number; data: string; gone?: boolean };
    const tiny = (n: number): J[] => Array.from({ length: n }, () => ({ iterations: 1, data: 'x' }));
    const q: J[] = [...tiny(3), { iterations: 1_000_000, data: 'big' }, ...tiny(2)];
    q[1]!.gone = true;
    const target = chunkTarget(1_000_000, 1_000_008, 2);
    assert.equal(target, 20_000);
    assert.equal(takeChunk(q, target, (j) => !!j.gone).length, 2);
    assert.deepEqual(
      takeChunk(q, target, (j) => !!j.gone),
      [{ iterations: 1_000_000, data: 'big' }],
    );
    assert.equal(takeChunk(q, target, (j) => !!j.gone).length, 2);
    assert.equal(q.length, 0);
    const many = tiny(5_000);
    assert.equal(takeChunk(many, 1e9, () => false).length, MAX_CHUNK_JOBS);
    // A small queue is split evenly between the threads.
    assert.equal(chunkTarget(1_000_000, 10, 2), 5);
    // Lanes are filled however big the jobs; a started job counts what is left of it.
    const lanes: J[] = [...Array.from({ length: 10 }, () => ({ iterations: 1_000_000, data: 'big' })), ...tiny(3)];
    assert.equal(takeChunk(lanes, target, () => false, 8).length, 8);
    const resumed = [
      { iterations: 1_000_000, data: '', progress: { remaining: 10 } },
      { iterations: 1_000_000, data: 'x', progress: null },
    ];
    assert.equal(takeChunk(resumed, 100, () => false).length, 1, 'the resumed job is 10 steps, the next one 1,000,001');
  });
});
