import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, type Action, type ClusterSnapshot, type ManagerSnapshot, type WorkerSnapshot } from '../src/runtime/autoscaler/decide.js';
import { policySchema } from '../src/runtime/autoscaler/policy.js';

const policy = policySchema.parse({ maxWorkers: 5, scaleUpAfterMs: 20_000, intervalMs: 5_000 });

/**
 * A small simulated cluster driven through `decide` on a fake clock: queued
 * work drains at the workers' hash rate, launched workers check in after a
 * boot delay, terminated ones disappear. No sleeping, no real time.
 */
class Sim {
  now = 0;
  workers: (WorkerSnapshot & { bootsAt: number; dead?: boolean; job?: { iterations: number; at: number } })[] = [];
  /** Each queued job's remaining iterations, oldest first, with its enqueue time. */
  queue: { iterations: number; at: number }[] = [];
  managers: Pick<ManagerSnapshot, 'index' | 'healthy' | 'instanceRunning'>[] = [
    { index: 1, healthy: true, instanceRunning: true },
    { index: 2, healthy: true, instanceRunning: true },
  ];
  unhealthySince: Record<number, number> = {};
  memory: Pick<ClusterSnapshot, 'lastLaunchAt' | 'idleSince' | 'lastRelaunchAt'> = { lastLaunchAt: null, idleSince: null, lastRelaunchAt: {} };
  launches = 0;
  terminations = 0;
  relaunched: number[] = [];
  private seq = 0;

  constructor(
    readonly rate = 1_000_000,
    readonly bootMs = 3_000,
  ) {}

  enqueue(n: number, iterations: number): void {
    for (let i = 0; i < n; i++) this.queue.push({ iterations, at: this.now });
  }

  snapshot(): ClusterSnapshot {
    const running = this.workers.filter((w) => w.job).length;
    for (const m of this.managers) {
      if (m.healthy) delete this.unhealthySince[m.index];
      else this.unhealthySince[m.index] ??= this.now;
    }
    this.memory.idleSince = this.queue.length + running > 0 ? null : (this.memory.idleSince ?? this.now);
    const oldest = this.queue[0] ? this.now - this.queue[0].at : null;
    return {
      managers: this.managers.map((m, i) => ({
        ...m,
        unhealthySince: this.unhealthySince[m.index] ?? null,
        instanceId: m.instanceRunning ? `manager-${m.index}` : null,
        // All the backlog sits on manager 1.
        queued: i === 0 ? this.queue.length : 0,
        running: i === 0 ? running : 0,
        oldestQueuedAgeMs: i === 0 ? oldest : null,
        queuedIterations: i === 0 ? this.queue.reduce((s, j) => s + j.iterations, 0) : 0,
      })),
      workers: this.workers.map(({ bootsAt: _b, dead: _d, job: _j, ...w }) => w),
      ...this.memory,
    };
  }

  tick(): Action[] {
    const actions = decide(this.snapshot(), policy, this.now);
    for (const a of actions) {
      if (a.kind === 'launch') {
        this.memory.lastLaunchAt = this.now;
        this.launches += a.count;
        for (let i = 0; i < a.count; i++) {
          this.workers.push({ instanceId: `w${++this.seq}`, launchedAt: this.now, lastHeartbeatAt: null, hashRate: null, threads: null, busy: 0, bootsAt: this.now + this.bootMs });
        }
      } else if (a.kind === 'terminate') {
        this.terminations += a.instanceIds.length;
        // A terminated worker's lease expires: its job goes back to the queue.
        for (const w of this.workers) if (a.instanceIds.includes(w.instanceId) && w.job) this.queue.unshift(w.job);
        this.workers = this.workers.filter((w) => !a.instanceIds.includes(w.instanceId));
      } else {
        this.memory.lastRelaunchAt[a.index] = this.now;
        this.relaunched.push(a.index);
      }
    }
    return actions;
  }

  /** Advances the clock by `ms`, in 1 s steps: booted workers heartbeat and compute; ticks every interval. */
  run(ms: number, each?: () => void): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 1_000;
      for (const w of this.workers) {
        if (w.dead || this.now < w.bootsAt) continue;
        w.lastHeartbeatAt = this.now;
        w.hashRate = this.rate;
        w.threads = 1;
        let budget = this.rate; // one second of hashing
        while (budget > 0) {
          w.job ??= this.queue.shift(); // a lease: the job leaves the queue
          if (!w.job) break;
          const used = Math.min(budget, w.job.iterations);
          w.job.iterations -= used;
          budget -= used;
          if (w.job.iterations === 0) delete w.job;
        }
        w.busy = w.job ? 1 : 0;
      }
      each?.();
      if (this.now % policy.intervalMs === 0) this.tick();
    }
  }

  get alive(): number {
    return this.workers.length;
  }
}

describe('decide', () => {
  test('a burst launches several workers at once, sized by the backlog and bounded by the maximum', () => {
    const sim = new Sim();
    sim.enqueue(300, 200_000); // 60 s of hashing for one worker
    sim.now = 19_000;
    assert.deepEqual(sim.tick(), [], 'nothing before the threshold');
    sim.now = 20_000;
    const [launch] = sim.tick();
    assert.equal(launch?.kind, 'launch');
    assert.equal((launch as { count: number }).count, 3, '60 s of work / 20 s threshold = 3 workers');
    sim.enqueue(3000, 200_000);
    sim.run(120_000);
    assert.ok(sim.alive <= policy.maxWorkers);
    assert.equal(sim.launches, policy.maxWorkers, 'grows to the maximum, never past it');
  });

  test('a trickle of jobs that never waits past the threshold launches nothing, or at most one worker', () => {
    const sim = new Sim();
    sim.run(120_000, () => {
      if (sim.now % 10_000 === 0) sim.enqueue(1, 1_000);
      // Without workers, the trickle waits; one worker is enough for it.
    });
    assert.ok(sim.launches <= 1, `launched ${sim.launches}`);
    const quick = new Sim();
    quick.workers.push({ instanceId: 'w0', launchedAt: 0, lastHeartbeatAt: 0, hashRate: 1e6, threads: 1, busy: 0, bootsAt: 0 });
    quick.run(120_000, () => quick.enqueue(1, 1_000));
    assert.equal(quick.launches, 0, 'a worker that keeps up means no scale-up');
  });

  test('one long job gets one worker, not many', () => {
    const sim = new Sim();
    sim.enqueue(1, 10_000_000);
    sim.run(60_000);
    assert.equal(sim.launches, 1);
  });

  test('slow boots: workers still starting count as capacity, so no over-launch', () => {
    const sim = new Sim(1_000_000, 90_000);
    sim.enqueue(100, 200_000); // 20 s of work: one worker's worth per threshold... of 20 s: 1 worker
    sim.run(60_000);
    assert.equal(sim.launches, 1, `launched ${sim.launches} while the first was still booting`);
  });

  test('a dead worker (heartbeats stop) is terminated and replaced while work waits', () => {
    const sim = new Sim();
    sim.enqueue(500, 1_000_000); // enough to keep every worker busy
    sim.run(30_000);
    const before = sim.launches;
    assert.equal(before, policy.maxWorkers);
    const victim = sim.workers[0]!;
    victim.dead = true;
    sim.run(60_000);
    assert.ok(!sim.workers.includes(victim), 'the dead worker was terminated');
    assert.ok(sim.launches > before, 'and replaced');
  });

  test('a worker that never checks in is terminated after the launch deadline', () => {
    const sim = new Sim(1_000_000, Number.MAX_SAFE_INTEGER);
    sim.enqueue(10, 1_000_000);
    sim.now = 20_000;
    sim.tick();
    assert.equal(sim.alive, 1);
    sim.now = 20_000 + policy.launchDeadlineMs;
    assert.equal(sim.tick().filter((a) => a.kind === 'terminate').length, 0, 'not at the deadline itself');
    sim.now += 1;
    const actions = sim.tick();
    assert.match(actions.find((a) => a.kind === 'terminate')?.reason ?? '', /never checked in/);
    assert.ok(actions.some((a) => a.kind === 'launch'), 'replaced, since work still waits');
  });

  test('a dead peer manager is relaunched after managerDeadAfterMs, not before, and never while its process lives', () => {
    const sim = new Sim();
    sim.managers[1] = { index: 2, healthy: false, instanceRunning: true };
    sim.run(10 * policy.managerDeadAfterMs);
    assert.deepEqual(sim.relaunched, [], 'a process still there is never doubled');
    const hung = new Sim();
    hung.managers[1] = { index: 2, healthy: false, instanceRunning: false };
    hung.now = 1_000;
    hung.tick();
    hung.now = 1_000 + policy.managerDeadAfterMs - 1;
    hung.tick();
    assert.deepEqual(hung.relaunched, []);
    hung.now = 1_000 + policy.managerDeadAfterMs;
    hung.tick();
    assert.deepEqual(hung.relaunched, [2]);
    hung.now += 1_000;
    hung.tick();
    assert.deepEqual(hung.relaunched, [2], 'cooldown between relaunches');
  });

  test('the maximum is never exceeded, and a lowered maximum trims the idlest workers', () => {
    const sim = new Sim();
    sim.enqueue(10_000, 1_000_000);
    sim.run(300_000, () => assert.ok(sim.alive <= policy.maxWorkers));
    const lowered = policySchema.parse({ ...policy, maxWorkers: 2 });
    const actions = decide(sim.snapshot(), lowered, sim.now);
    const cut = actions.find((a) => a.kind === 'terminate');
    assert.equal(cut?.kind === 'terminate' && cut.instanceIds.length, sim.alive - 2);
  });

  test('flapping load does not thrash', () => {
    const sim = new Sim();
    sim.run(600_000, () => {
      // 20 s bursts every 40 s.
      if (sim.now % 40_000 === 0) sim.enqueue(40, 1_000_000);
    });
    assert.ok(sim.launches + sim.terminations <= 10, `launches ${sim.launches}, terminations ${sim.terminations}`);
  });

  test('idle: workers left after the idle window are terminated, the cluster goes to zero', () => {
    const sim = new Sim();
    sim.enqueue(20, 1_000_000);
    sim.run(60_000);
    assert.ok(sim.alive > 0);
    sim.run(policy.idleTerminateAfterMs + 10_000);
    assert.equal(sim.queue.length, 0);
    assert.equal(sim.alive, 0);
  });
});

describe('the autoscaler loop', () => {
  test('a follower whose lower peer is healthy stays out: no status fetches, no provider calls, no actions', async () => {
    const { startAutoscaler } = await import('../src/runtime/autoscaler/loop.js');
    const { memoryLogger } = await import('./helpers.js');
    const calls: string[] = [];
    const leadership: boolean[] = [];
    let lowerHealthy = true;
    const provider = {
      name: 'local' as const,
      launch: async () => (calls.push('launch'), []),
      list: async () => (calls.push('list'), []),
      terminate: async () => void calls.push('terminate'),
      hourlyCost: async () => ({ usdPerHour: 0, basis: '' }),
    };
    const status = { healthy: true, queue: { queued: 5, running: 0, completed: 0, failed: 0, oldestQueuedAgeMs: 60_000, queuedIterations: 5_000_000 }, workers: [] };
    const a = startAutoscaler({
      cluster: 'c',
      selfIndex: 2,
      policy: policySchema.parse({ maxWorkers: 2, scaleUpAfterMs: 1_000, intervalMs: 60_000 }),
      provider,
      selfStatus: () => status as never,
      peerStatuses: async () => (calls.push('peerStatuses'), [{ index: 1, status: null }]),
      lowerPeerHealthy: async () => lowerHealthy,
      workerConfig: () => ({}),
      relaunchManager: async () => undefined,
      setLeader: (v) => void leadership.push(v),
      event: () => undefined,
      now: () => 1_000_000,
      logger: memoryLogger().logger,
    });
    try {
      assert.deepEqual(await a.tick(), []);
      assert.deepEqual(calls, []);
      assert.deepEqual(leadership, [false]);
      // Manager 1 goes away: this one leads and acts on the backlog.
      lowerHealthy = false;
      const actions = await a.tick();
      assert.deepEqual(leadership, [false, true]);
      assert.deepEqual(calls.slice(0, 3), ['peerStatuses', 'list', 'list']);
      assert.ok(actions.some((x) => x.kind === 'launch'), JSON.stringify(actions));
    } finally {
      await a.close();
    }
  });
});
