/**
 * Two managers and two workers as separate processes on 127.0.0.1 (started
 * through the local provider, stopped by PID), driven over real HTTP.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { isAlive } from './cli.js';
import { expected, jobSet, TestCluster } from './process-cluster.js';
import { waitFor } from './helpers.js';

describe('a cluster of real processes', () => {
  let c: TestCluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  test('1,000 mixed jobs on two managers and two workers: all correct, pulled through either manager, none twice', async () => {
    c = new TestCluster({ basePort: 15610 });
    await c.start();
    await c.launch('worker');
    await c.launch('worker');
    for (let i = 0; i < 1_000; i += 100) {
      const jobs = Array.from({ length: 100 }, (_, k) => ({ data: `mixed-${i + k}`, iterations: 1 + (((i + k) * 7919) % 3000) }));
      const results = new Map(jobs.map((j) => [`${j.data}/${j.iterations}`, expected(j.data, j.iterations)]));
      await c.enqueue((i / 100) % 2 === 0 ? 1 : 2, jobs, results);
    }
    assert.equal(c.want.size, 1_000);
    await c.pullAll(120_000);
    assert.deepEqual(c.summary('mixed', 0), { line: 'mixed: jobs 1000, faults injected 0, lost 0, duplicated 0, wrong 0', lost: 0, duplicated: 0, wrong: 0 });
  });

  test('kill -9 of a worker mid-run: every job still completes, none delivered twice', async () => {
    c = new TestCluster({ basePort: 15620 });
    await c.start();
    const victim = await c.launch('worker');
    await c.launch('worker');
    const { jobs, results } = jobSet('kill', 300, 20_000);
    await c.enqueue(1, jobs.slice(0, 150), results);
    await c.enqueue(2, jobs.slice(150), results);
    await waitFor('the victim to hold leases', async () =>
      [...(await c!.status(1)).workers, ...(await c!.status(2)).workers].some((w) => w.instanceId === victim.id && w.busy > 0),
    );
    process.kill(victim.pid!, 'SIGKILL');
    await c.pullAll(120_000);
    const s = c.summary('worker kill -9', 1);
    assert.deepEqual([s.lost, s.duplicated, s.wrong], [0, 0, 0], s.line);
    const expiries = (await c.status(1)).totals.leaseExpiries + (await c.status(2)).totals.leaseExpiries;
    assert.ok(expiries > 0, 'the killed worker held leases that expired');
  });

  test('kill -9 of a manager mid-run, started again on its data: no acknowledged job lost', async () => {
    c = new TestCluster({ basePort: 15630 });
    const [m1] = await c.start();
    await c.launch('worker');
    const { jobs, results } = jobSet('m', 500, 5_000, 5);
    await c.enqueue(1, jobs.slice(0, 200), results);
    await c.enqueue(2, jobs.slice(200, 400), results);
    process.kill(m1!.pid!, 'SIGKILL');
    await waitFor('manager 1 to be gone', () => !isAlive(m1!.pid!));
    // While it is down, the other manager takes jobs.
    await c.enqueue(2, jobs.slice(400), results);
    await c.launch('manager', 1);
    await waitFor('manager 1 back', async () => (await c!.clients[0]!.healthz()).ok);
    await c.pullAll(120_000);
    const s = c.summary('manager kill -9', 1);
    assert.deepEqual([s.lost, s.duplicated, s.wrong], [0, 0, 0], s.line);
  });
});
