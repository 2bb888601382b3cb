/**
 * Staged batch upload (review finding 7): parts are staged, a retried part
 * replaces the first copy, one commit enqueues them all in order, a repeated
 * commit answers the same ids, and a batch never committed is dropped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { auth, memoryLogger, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';

interface Answer {
  status: number;
  body: { batch?: string; ids?: number[]; count?: number; error?: { code: string; message: string } };
}

describe('staged batch upload', () => {
  const tmp = tempDir();
  let m: RunningManager;
  let clock = Date.now();
  before(async () => {
    m = await startTestManager(tmp.dir, { sweepIntervalMs: 50 }, { logger: memoryLogger().logger, now: () => clock });
  });
  after(async () => {
    await m.close();
    tmp.cleanup();
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = auth()): Promise<Answer> => {
    const res = await fetch(m.url + path, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  const start = async (): Promise<string> => {
    const r = await call('POST', '/enqueue/batches');
    assert.equal(r.status, 201);
    assert.match(r.body.batch!, /^[A-Za-z0-9_-]{22}$/);
    return r.body.batch!;
  };
  const jobs = (...data: string[]) => data.map((d) => ({ data: d, iterations: 3 }));
  const drain = (): string[] => m.ctx.store.lease('w', 1000, 1e9, 60_000, clock).map((j) => j.data);

  test('parts stage without queuing; a retried part does not double; one commit enqueues all in part then line order', async () => {
    const id = await start();
    assert.equal((await call('PUT', `/enqueue/batches/${id}/2`, jobs('c', 'd', 'e'))).status, 200);
    assert.equal((await call('PUT', `/enqueue/batches/${id}/1`, jobs('a', 'b'))).body.count, 2);
    // The answer to part 1 "got lost": the client sends it again.
    assert.equal((await call('PUT', `/enqueue/batches/${id}/1`, jobs('a', 'b'))).status, 200);
    assert.equal(m.ctx.store.counts().queued, 0, 'nothing queued before the commit');

    const c = await call('POST', `/enqueue/batches/${id}/commit`, { parts: 2 });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.ids!.length, 5);
    assert.deepEqual(
      [...c.body.ids!].sort((x, y) => x - y),
      c.body.ids,
    );
    assert.equal(m.ctx.store.counts().queued, 5);
    assert.equal(m.ctx.metrics.totals.enqueued, 5);

    const again = await call('POST', `/enqueue/batches/${id}/commit`, { parts: 2 });
    assert.deepEqual(again, c, 'a repeated commit answers the same ids');
    assert.equal(m.ctx.store.counts().queued, 5, 'and enqueues nothing');
    assert.equal((await call('POST', `/enqueue/batches/${id}/commit`, { parts: 3 })).body.error?.code, 'parts_mismatch');
    assert.equal((await call('PUT', `/enqueue/batches/${id}/3`, jobs('x'))).body.error?.code, 'batch_committed');
    assert.deepEqual(drain(), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(
      c.body.ids!.map((i) => m.ctx.store.get(i)?.iterations),
      [3, 3, 3, 3, 3],
    );
  });

  test('a bad job in a part is refused like a batch enqueue (its index in the part); a missing part refuses the commit', async () => {
    const id = await start();
    assert.equal((await call('PUT', `/enqueue/batches/${id}/1`, jobs('a'))).status, 200);
    const bad = await call('PUT', `/enqueue/batches/${id}/2`, [
      { data: 'ok', iterations: 1 },
      { data: 'x', iterations: 0 },
    ]);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code, 'invalid_iterations');
    assert.match(bad.body.error.message, /^job 1: /);
    const lone = await call('PUT', `/enqueue/batches/${id}/2`, [{ data: '\ud800', iterations: 1 }]);
    assert.equal(lone.body.error?.code, 'invalid_utf8');
    assert.equal((await call('PUT', `/enqueue/batches/${id}/2`, { data: 'x', iterations: 1 })).body.error?.code, 'invalid_part');
    assert.equal((await call('PUT', `/enqueue/batches/${id}/0`, jobs('x'))).body.error?.code, 'invalid_part');

    const missing = await call('POST', `/enqueue/batches/${id}/commit`, { parts: 2 });
    assert.equal(missing.status, 409);
    assert.equal(missing.body.error?.code, 'missing_part');
    assert.match(missing.body.error.message, /part 2 of 2/);
    assert.equal((await call('POST', `/enqueue/batches/${id}/commit`, { parts: 0 })).body.error?.code, 'invalid_parts');
    assert.equal((await call('POST', `/enqueue/batches/${id}/commit`, {})).body.error?.code, 'invalid_parts');
    assert.equal(m.ctx.store.counts().queued, 0);
    assert.equal((await call('POST', `/enqueue/batches/nope/commit`, { parts: 1 })).status, 404);
    assert.equal((await call('PUT', `/enqueue/batches/AAAAAAAAAAAAAAAAAAAAAA/1`, jobs('x'))).body.error?.code, 'batch_not_found');
  });

  test('every batch route needs the client token', async () => {
    const id = await start();
    for (const headers of [{}, auth(WORKER_TOKEN)]) {
      const want = Object.keys(headers).length === 0 ? 401 : 403;
      assert.equal((await call('POST', '/enqueue/batches', undefined, headers)).status, want);
      assert.equal((await call('PUT', `/enqueue/batches/${id}/1`, jobs('x'), headers)).status, want);
      assert.equal((await call('POST', `/enqueue/batches/${id}/commit`, { parts: 1 }, headers)).status, want);
    }
    assert.equal((await call('GET', `/enqueue/batches/${id}/1`)).status, 405);
  });

  test('a batch not committed within an hour is dropped by the periodic purge', async () => {
    const id = await start();
    assert.equal((await call('PUT', `/enqueue/batches/${id}/1`, jobs('late'))).status, 200);
    clock += 3600_000 + 1;
    // Asking for a part that was never sent commits nothing: 409 while the batch is there, 404 once it is gone.
    await waitFor('the stale batch to be purged', async () => (await call('POST', `/enqueue/batches/${id}/commit`, { parts: 2 })).status === 404);
    // (The first test's leases expired with the hour too, so its jobs are queued again; this one's never was.)
    assert.ok(!drain().includes('late'));
  });
});
