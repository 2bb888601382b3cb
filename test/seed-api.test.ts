/**
 * The seed's two calls, exactly as its README writes them (plus the token),
 * against two real managers and a real worker: every vector comes back right.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workerConfigSchema } from '../src/settings/worker.js';
import type { RunningManager } from '../src/runtime/manager/server.js';
import { endpointFile } from '../src/runtime/manager/server.js';
import { startWorker, type RunningWorker } from '../src/runtime/worker/worker.js';
import { auth, memoryLogger, startTestManager, tempDir, vectors, waitFor, WORKER_TOKEN } from './helpers.js';

describe('the seed API', () => {
  const dirs = [tempDir(), tempDir()];
  let managers: RunningManager[];
  let worker: RunningWorker;

  before(async () => {
    const m1 = await startTestManager(dirs[0]!.dir, { index: 1 });
    const m2 = await startTestManager(dirs[1]!.dir, { index: 2, peers: [{ index: 1, url: m1.url }] });
    managers = [m1, m2];
    worker = startWorker(
      workerConfigSchema.parse({
        managers: managers.map((m, i) => ({ index: i + 1, url: m.url, endpointFile: endpointFile(dirs[i]!.dir) })),
        workerToken: WORKER_TOKEN,
        threads: 1,
        leaseWaitMs: 1_000,
      }),
      { logger: memoryLogger().logger },
    );
  });
  after(async () => {
    await worker.close();
    for (const m of managers) await m.close();
    for (const d of dirs) d.cleanup();
  });

  test('curl -X PUT /enqueue?iterations=N -d "data=…" then POST /pullCompleted?top=N return every vector', async () => {
    const want = new Map<number, string>();
    for (const v of vectors()) {
      // What `curl -d` sends: a form body, the value percent-encoded.
      const res = await fetch(`${managers[0]!.url}/enqueue?iterations=${v.iterations}`, {
        method: 'PUT',
        headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded' },
        body: `data=${encodeURIComponent(v.data)}`,
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { id: unknown };
      assert.ok(Number.isSafeInteger(body.id));
      want.set(body.id as number, v.result);
    }
    const got = new Map<number, string>();
    // Pulled through manager 2, which has none of its own: every result comes from its peer.
    await waitFor('every result', async () => {
      const res = await fetch(`${managers[1]!.url}/pullCompleted?top=2`, { method: 'POST', headers: auth() });
      assert.equal(res.status, 200);
      const batch = (await res.json()) as { id: number; result: string }[];
      assert.ok(batch.length <= 2);
      for (const j of batch) {
        assert.ok(!got.has(j.id), `job ${j.id} handed out twice`);
        got.set(j.id, j.result);
      }
      return got.size === want.size;
    });
    assert.deepEqual(got, want);
    for (const [id, result] of want) {
      const job = (await (await fetch(`${managers[0]!.url}/jobs/${id}`, { headers: auth() })).json()) as { status: string; result: string };
      assert.equal(job.status, 'pulled');
      assert.equal(job.result, result, 'still readable after it was pulled');
    }
  });
});
