import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, type Action, type ClusterSnapshot, type ManagerSnapshot, type WorkerSnapshot } from '../src/runtime/autoscaler/decide.js';
import type { Instance, Provider } from '../src/providers/types.js';
import { startAutoscaler, type Autoscaler } from '../src/runtime/autoscaler/loop.js';
import { autoscalePolicy, autoscaleSettingsFor, type AutoscaleSettings } from '../src/settings/autoscale.js';
import { policySchema, type AutoscalePolicy } from '../src/settings/policy.js';
import { demoSettings } from './fake-aws.js';
import { memoryLogger } from './helpers.js';

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
        this.unhealthySince[a.index] = this.now;
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

  test('a faster worker means fewer machines, never more: the backlog is sized with the rates workers report', () => {
    // Per-thread rates: the JavaScript loop, the single-stream C loop, AVX2 and AVX-512 lanes.
    const launches = [1_000_000, 1_800_000, 4_000_000, 11_000_000].map((rate) => {
      const sim = new Sim(rate);
      sim.workers.push({ instanceId: 'w0', launchedAt: 0, lastHeartbeatAt: 0, hashRate: rate, threads: 1, busy: 1, bootsAt: 0 });
      sim.enqueue(400, 1_000_000); // 400 M steps
      sim.run(300_000);
      return sim.launches;
    });
    for (let i = 1; i < launches.length; i++) assert.ok(launches[i]! <= launches[i - 1]!, `launches by rate: ${launches.join(', ')}`);
    assert.ok(launches[3]! < launches[0]!, `launches by rate: ${launches.join(', ')}`);
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
    assert.ok(
      actions.some((a) => a.kind === 'launch'),
      'replaced, since work still waits',
    );
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

  test('a relaunched manager gets its boot grace: neither relaunched again nor stopped during it, and its outage counts from its end', () => {
    const p = policySchema.parse({ managerDeadAfterMs: 60_000, managerBootGraceMs: 600_000 });
    const at = (over: Partial<ManagerSnapshot>, now: number): Action[] =>
      decide(
        {
          // Down for an hour already, relaunched at 1 h: the snapshot's outage start is deliberately not reset here.
          managers: [{ index: 2, healthy: false, unhealthySince: 0, instanceRunning: true, instanceId: 'i-new', queued: 0, running: 0, oldestQueuedAgeMs: null, queuedIterations: 0, ...over }],
          workers: [],
          lastLaunchAt: null,
          idleSince: null,
          lastRelaunchAt: { 2: 3600_000 },
        },
        p,
        now,
      );
    const gone = { instanceRunning: false, instanceId: null };
    for (const now of [3600_001, 3900_000, 4199_999]) {
      assert.deepEqual(at({}, now), [], `booting at ${now}: not stopped`);
      assert.deepEqual(at(gone, now), [], `booting at ${now}: not relaunched again`);
    }
    const graceEnd = 4200_000;
    assert.deepEqual(at({}, graceEnd + 3 * 60_000 - 1), [], 'a hang counts from the end of the grace');
    assert.equal(at({}, graceEnd + 3 * 60_000)[0]?.kind, 'terminate');
    assert.deepEqual(at(gone, graceEnd + 60_000 - 1), []);
    assert.equal(at(gone, graceEnd + 60_000)[0]?.kind, 'relaunch-manager');
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
      assert.ok(
        actions.some((x) => x.kind === 'launch'),
        JSON.stringify(actions),
      );
    } finally {
      await a.close();
    }
  });
});

/** The settings deploy-aws writes. */
const awsSettings: AutoscaleSettings = autoscaleSettingsFor({
  provider: 'aws',
  aws: demoSettings(),
  members: [1, 2].map((index) => ({ index, host: `10.0.0.${index}`, port: 7100, dataDir: '/var/lib/dynwork' })),
  maxWorkers: 4,
  scaleUpAfterS: 20,
  idleTimeoutS: 300,
  workerThreads: 2,
});

/** The settings deploy (local) writes. */
const localSettings: AutoscaleSettings = autoscaleSettingsFor({
  provider: 'local',
  root: '/tmp/dynwork-state',
  members: [1, 2].map((index) => ({ index, host: '127.0.0.1', port: 7100 + index, dataDir: `/tmp/m${index}` })),
  maxWorkers: 4,
  scaleUpAfterS: 20,
  idleTimeoutS: 300,
});

const T0 = Date.parse('2025-01-01T00:00:00Z');

/**
 * The real loop on a fake clock, with a fake provider listing manager
 * machines and fake peers whose health the test decides. Ticks are driven by
 * hand, one per policy interval; nothing sleeps.
 */
class FakeCluster {
  now = T0;
  instances: Instance[] = [];
  terminated: string[] = [];
  relaunched: number[] = [];
  /** Every action with the fake time it was decided at. */
  actions: { at: number; action: Action }[] = [];
  /** Whether manager `index` answers /status as healthy right now. */
  healthy: (index: number) => boolean = () => true;
  readonly autoscaler: Autoscaler;
  private seq = 0;

  constructor(
    selfIndex: number,
    readonly policy: AutoscalePolicy,
    indexes = [1, 2],
  ) {
    // Machines that have been up for a day.
    for (const index of indexes) this.launch(index, T0 - 24 * 3600_000);
    const status = (healthy: boolean) => ({ healthy, queue: { queued: 0, running: 0, completed: 0, failed: 0, oldestQueuedAgeMs: null, queuedIterations: 0 }, workers: [] }) as never;
    const provider: Provider = {
      name: 'aws',
      launch: async () => {
        throw new Error('no worker launches expected here');
      },
      list: async (f) => (f.role === 'manager' ? this.instances.map((i) => ({ ...i })) : []),
      terminate: async (ids) => {
        this.terminated.push(...ids);
        this.instances = this.instances.filter((i) => !ids.includes(i.id));
      },
      hourlyCost: async () => ({ usdPerHour: 0, basis: '' }),
    };
    this.autoscaler = startAutoscaler({
      cluster: 'c',
      selfIndex,
      policy,
      provider,
      selfStatus: () => status(true),
      peerStatuses: async () => indexes.filter((i) => i !== selfIndex).map((index) => ({ index, status: this.healthy(index) ? status(true) : null })),
      lowerPeerHealthy: async () => indexes.some((i) => i < selfIndex && this.healthy(i)),
      workerConfig: () => ({}),
      relaunchManager: async (index) => {
        this.relaunched.push(index);
        this.launch(index, this.now);
      },
      setLeader: () => undefined,
      event: () => undefined,
      now: () => this.now,
      logger: memoryLogger().logger,
    });
  }

  launch(index: number, at: number): Instance {
    const inst: Instance = { id: `manager-${index}-${++this.seq}`, cluster: 'c', role: 'manager', index, state: 'running', launchedAt: new Date(at).toISOString() };
    this.instances.push(inst);
    return inst;
  }

  /** Advances the fake clock by `ms`, one decision round per policy interval. */
  async run(ms: number, each?: () => void): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += this.policy.intervalMs;
      each?.();
      for (const action of await this.autoscaler.tick()) this.actions.push({ at: this.now, action });
    }
  }
}

describe('peer manager outages', () => {
  test('AWS: a hung manager is stopped and relaunched once; its replacement boots for minutes untouched, then nothing more happens', async () => {
    const c = new FakeCluster(1, autoscalePolicy(awsSettings));
    const bootMs = 5 * 60_000;
    const hung = c.instances.find((i) => i.index === 2)!.id;
    let healthyAt: number | null = null;
    // Manager 2's machine is still there but answers nothing; a replacement answers once booted.
    // About 20 minutes of outage: 15 to judge the old machine hung (3 x 5 min), then the boot.
    c.healthy = (index) => index !== 2 || c.instances.some((i) => i.index === 2 && i.id !== hung && c.now >= Date.parse(i.launchedAt) + bootMs);
    try {
      await c.run(25 * 60_000, () => {
        if (healthyAt === null && c.healthy(2)) healthyAt = c.now;
      });
      assert.deepEqual(c.relaunched, [2], `exactly one relaunch; actions: ${JSON.stringify(c.actions)}`);
      assert.deepEqual(c.terminated, [hung], 'only the hung machine is stopped, never its booting replacement');
      assert.notEqual(healthyAt, null, 'the replacement came up');
      const settled = c.actions.length;
      await c.run(60 * 60_000);
      assert.deepEqual(c.actions.slice(settled), [], 'once healthy, nothing more happens');
      assert.deepEqual(c.relaunched, [2]);
      assert.deepEqual(c.terminated, [hung]);
    } finally {
      await c.autoscaler.close();
    }
  });

  test('two short stalls 40 s apart do not add up to one long outage (leader stalls seen by a follower, or a peer by the leader)', async () => {
    // Unhealthy for 10 s, healthy for 30 s, unhealthy for 10 s.
    const stalled = (t: number): boolean => (t >= 10_000 && t < 20_000) || (t >= 50_000 && t < 60_000);
    for (const [selfIndex, peer] of [
      [2, 1],
      [1, 2],
    ] as const) {
      const c = new FakeCluster(selfIndex, autoscalePolicy(localSettings));
      c.healthy = (index) => index !== peer || !stalled(c.now - T0);
      try {
        await c.run(120_000);
        assert.deepEqual(c.actions, [], `manager ${selfIndex} watching manager ${peer}`);
      } finally {
        await c.autoscaler.close();
      }
    }
  });
});
