/**
 * A cluster of real manager and worker processes on 127.0.0.1 (started
 * through the local provider, stopped by PID), driven over real HTTP: first
 * with no faults, then DESIGN §5's failure modes, each under load. Every
 * scenario prints one summary line (jobs, faults injected, lost, duplicated,
 * wrong) and asserts the last three are 0.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, test, type TestContext } from 'node:test';
import { isAlive } from './cli.js';
import { expected, jobSet, TestCluster } from './process-cluster.js';
import { auth, memoryLogger, startTestManager, tempDir, waitFor } from './helpers.js';

function report(t: TestContext, c: TestCluster, name: string, faults: number): void {
  const s = c.summary(name, faults);
  t.diagnostic(s.line);
  assert.deepEqual({ lost: s.lost, duplicated: s.duplicated, wrong: s.wrong }, { lost: 0, duplicated: 0, wrong: 0 }, s.line);
}

describe('faults under load', () => {
  let c: TestCluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  test('1,000 mixed jobs on two managers and two workers: all correct, pulled through either manager, none twice', async () => {
    c = new TestCluster();
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

  test('workers killed with SIGKILL about once a second: every job completes right, none twice', async (t) => {
    // Leases are short so kills cost little time; on a loaded machine a heartbeat can then be late
    // enough that a job's lease runs out five times and it is failed as poison (tested elsewhere).
    // Here every job must come back, so that rule gets room.
    c = new TestCluster({ leaseMs: 1_500, manager: { maxAttempts: 50 } });
    await c.start();
    const workers = [await c.launch('worker'), await c.launch('worker')];
    // Heavy enough that the load outlasts several kills even with every SIMD lane full.
    const { jobs, results } = jobSet('chaos', 3_000, 20_000);
    await c.enqueue(1, jobs.slice(0, 1_500), results);
    await c.enqueue(2, jobs.slice(1_500), results);
    // The first kill hits a worker known to hold leases, so some must expire.
    const victim = workers[0]!;
    await waitFor('the first victim to hold leases', async () => [...(await c!.status(1)).workers, ...(await c!.status(2)).workers].some((w) => w.instanceId === victim.id && w.busy > 0));
    process.kill(victim.pid!, 'SIGKILL');
    workers[0] = await c.launch('worker');
    let kills = 1;
    let lastKill = Date.now();
    let waves = 0;
    await c.pullAll(180_000, async () => {
      // However fast this machine is, the load lasts until enough workers were killed under it.
      if (kills < 5 && c!.want.size - c!.got.size < 500 && waves < 60) {
        waves++;
        await c!.enqueue(1 + (waves % 2), jobs.slice(0, 500), results);
      }
      if (Date.now() - lastKill < 1_000 || kills >= 15 || c!.got.size >= c!.want.size) return;
      lastKill = Date.now();
      const i = kills % workers.length;
      process.kill(workers[i]!.pid!, 'SIGKILL');
      kills++;
      workers[i] = await c!.launch('worker');
    });
    assert.ok(kills >= 5, `only ${kills} kills happened during the run`);
    report(t, c, 'worker SIGKILL', kills);
    const expiries = (await c.status(1)).totals.leaseExpiries + (await c.status(2)).totals.leaseExpiries;
    assert.ok(expiries > 0, 'the killed workers held leases that expired');
  });

  test('frozen workers (SIGSTOP): their jobs are redone elsewhere; one resumed drops its late results, one left frozen is stopped by the leader', async (t) => {
    c = new TestCluster({ leaseMs: 1_500, autoscale: { maxWorkers: 3, heartbeatTimeoutMs: 8_000, scaleUpAfterMs: 60_000 } });
    await c.start();
    const resumed = await c.launch('worker');
    // Enough work that a third worker still finds some (two workers fill their lanes with what they can).
    const { jobs, results } = jobSet('stop', 600, 200_000);
    await c.enqueue(1, jobs, results);
    await waitFor('the first worker to hold leases', async () => (await c!.status(1)).queue.running > 0);
    process.kill(resumed.pid!, 'SIGSTOP');
    const other = await c.launch('worker');
    await waitFor('its leases to expire', async () => (await c!.status(1)).totals.leaseExpiries > 0, 30_000);
    process.kill(resumed.pid!, 'SIGCONT');

    const left = await c.launch('worker');
    await waitFor('the third worker to hold leases', async () => (await c!.status(1)).workers.some((w) => w.instanceId === left.id && w.busy > 0), 30_000);
    process.kill(left.pid!, 'SIGSTOP');
    // The leader records the event only once terminate() has seen the process go, so wait for the event, not the death.
    const events = async (): Promise<string> => [...(await c!.status(1)).events, ...(await c!.status(2)).events].map((e) => e.message).join('\n');
    const stopped = new RegExp(`terminated [^:]*\\b${left.id}\\b[^:]*: no heartbeat`);
    await waitFor('the leader to stop the worker left frozen, and say so', async () => stopped.test(await events()), 60_000, 200);
    assert.ok(!isAlive(left.pid!), 'the frozen worker is gone');

    await c.pullAll(120_000);
    assert.match(await events(), /lease\(s\) expired; job\(s\) requeued for retry/);
    assert.ok(isAlive(resumed.pid!), 'the resumed worker carried on');
    assert.ok(isAlive(other.pid!));
    report(t, c, 'worker SIGSTOP', 2);
  });

  test('each manager killed once and brought back by its peer on its data: nothing acknowledged is lost, the survivor serves and takes jobs', async (t) => {
    c = new TestCluster({ leaseMs: 2_000, autoscale: { maxWorkers: 2, managerDeadAfterMs: 1_500 } });
    const managers = await c.start();
    await c.launch('worker');
    await c.launch('worker');
    const { jobs, results } = jobSet('mgr', 2_000, 2_000);
    await c.enqueue(1, jobs.slice(0, 1_000), results);
    await c.enqueue(2, jobs.slice(1_000), results);
    let faults = 0;
    for (const victim of [2, 1]) {
      const pid = managers[victim - 1]!.pid!;
      process.kill(pid, 'SIGKILL');
      faults++;
      await waitFor(`manager ${victim} gone`, () => !isAlive(pid));
      // During the outage the survivor takes jobs and answers pulls.
      const survivor = victim === 1 ? 2 : 1;
      await c.enqueue(survivor, jobs.slice(0, 100), results);
      await c.pullOnce(survivor);
      const back = await waitFor(
        `manager ${victim} relaunched by its peer`,
        async () => {
          const list = await c!.provider.list({ cluster: c!.cluster, role: 'manager' });
          const m = list.find((i) => i.index === victim);
          return m && (await c!.clients[victim - 1]!.healthz()).ok ? m : null;
        },
        60_000,
        200,
      );
      c.pids.add(back.pid!);
      managers[victim - 1] = back;
    }
    await c.pullAll(120_000);
    const events = [...(await c.status(1)).events, ...(await c.status(2)).events].map((e) => e.message).join('\n');
    // Events live in memory: manager 1 lost its own (it was killed); manager 2 shows relaunching it.
    assert.match(events, /relaunched manager 1: manager 1 down for/);
    report(t, c, 'manager SIGKILL', faults);
  });
});

describe('a peer that accepts connections but never answers', () => {
  test('/pullCompleted and /enqueue on the other manager answer within the peer timeout with what they have', async () => {
    const hung: Server = createServer((s: Socket) => void s.on('error', () => undefined));
    const sockets = new Set<Socket>();
    hung.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const port = (hung.address() as { port: number }).port;
    const tmp = tempDir();
    const m = await startTestManager(tmp.dir, { peers: [{ index: 2, url: `http://127.0.0.1:${port}` }], peerTimeoutMs: 500 }, { logger: memoryLogger().logger });
    try {
      const enq = await fetch(`${m.url}/enqueue?iterations=1`, { method: 'PUT', headers: { ...auth(), 'content-type': 'text/plain' }, body: 'x', signal: AbortSignal.timeout(5_000) });
      assert.equal(enq.status, 200);
      const pull = await fetch(`${m.url}/pullCompleted?top=5`, { method: 'POST', headers: auth(), signal: AbortSignal.timeout(5_000) });
      assert.equal(pull.status, 200);
      assert.deepEqual(await pull.json(), []);
      assert.ok(sockets.size > 0, 'the hung peer was asked');
    } finally {
      await m.close();
      for (const s of sockets) s.destroy();
      hung.close();
      tmp.cleanup();
    }
  });
});
