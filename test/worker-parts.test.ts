/**
 * The worker's parts (src/runtime/worker/) on a manual clock against a fake
 * manager: lease renewal, result delivery and the timed exits. No thread,
 * socket or wall-clock wait: time moves only by clock.advance(). The dispatch
 * case is the exception: it runs real hashing threads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Changes } from '../src/runtime/worker/changes.js';
import { iteratedSha512Js } from '../src/job/hash.js';
import { Deliveries } from '../src/runtime/worker/deliveries.js';
import { Dispatch } from '../src/runtime/worker/dispatch.js';
import { ExitWatch, type TimedExit } from '../src/runtime/worker/exits.js';
import { Heartbeats } from '../src/runtime/worker/heartbeats.js';
import { HeldJobs, type HeldJob } from '../src/runtime/worker/held-jobs.js';
import { leaseLoop } from '../src/runtime/worker/leasing.js';
import { ManagerLink, type ManagerCalls } from '../src/runtime/worker/manager-link.js';
import { FLUSH_DELAY_MS } from '../src/runtime/worker/plan.js';
import { ManualClock, settle } from './fake-clock.js';
import { memoryLogger } from './helpers.js';

type HeartbeatRequest = Parameters<ManagerCalls['heartbeat']>[0];
type CompleteRequest = Parameters<ManagerCalls['complete']>[0];
type LeaseRequest = Parameters<ManagerCalls['lease']>[0];
type LeasedJob = Awaited<ReturnType<ManagerCalls['lease']>>['jobs'][number];

const LEASE_MS = 3_000;

/** A manager that records what it is sent; it can be told to fail calls or to disown jobs. */
function fakeManager() {
  const m = {
    heartbeats: [] as HeartbeatRequest[],
    completes: [] as CompleteRequest[],
    /** Ids this manager no longer gives to this worker. */
    lost: new Set<number>(),
    leases: [] as LeaseRequest[],
    /** What the next lease calls answer, in turn (then nothing). */
    toLease: [] as LeasedJob[][],
    failCompletes: 0,
    failHeartbeats: 0,
    failLeases: 0,
    client: undefined as unknown as ManagerCalls,
  };
  const down = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'unreachable' });
  m.client = {
    url: 'https://127.0.0.1:1',
    heartbeat: async (req) => {
      m.heartbeats.push(structuredClone(req));
      if (m.failHeartbeats-- > 0) throw down();
      return { extended: req.ids.filter((id) => !m.lost.has(id)), lost: req.ids.filter((id) => m.lost.has(id)), leaseMs: LEASE_MS };
    },
    complete: async (req) => {
      m.completes.push(structuredClone(req));
      if (m.failCompletes-- > 0) throw down();
      return { accepted: req.results.map((r) => r.id).filter((id) => !m.lost.has(id)), rejected: req.results.map((r) => r.id).filter((id) => m.lost.has(id)) };
    },
    lease: async (req) => {
      m.leases.push(structuredClone(req));
      if (m.failLeases-- > 0) throw down();
      return { jobs: m.toLease.shift() ?? [], leaseMs: LEASE_MS };
    },
    close: async () => {},
  };
  return m;
}

function setup() {
  const clock = new ManualClock();
  const { logger, lines } = memoryLogger();
  const changes = new Changes();
  const held = new HeldJobs(clock, changes, logger);
  const manager = fakeManager();
  const link = new ManagerLink(1, manager.client, clock, logger);
  const stop = new AbortController();
  return {
    clock,
    logger,
    lines,
    changes,
    held,
    manager,
    link,
    stop,
    /** Jobs leased from the fake manager now. */
    lease(ids: number[]): void {
      held.add(
        link,
        ids.map((id) => ({ id, data: `job-${id}`, iterations: 10 })),
        LEASE_MS,
        () => link,
      );
    },
    /** Hands the next queued job to a (pretend) thread. */
    run(): HeldJob {
      const chunk = held.nextChunk(1, 1); // rate 1: one job per chunk
      assert.equal(chunk.length, 1);
      return chunk[0]!;
    },
  };
}

describe('worker parts: heartbeats', () => {
  test('a held job is renewed before its lease runs out, and dropped once its manager says it is not ours', async () => {
    const s = setup();
    s.lease([1001]);
    const beats = new Heartbeats(s.held, { workerId: 'w1', instanceId: undefined, threads: 1, hashRate: () => 1234.4 }, s.clock, s.stop.signal, s.logger);
    beats.start(s.link);
    await settle();
    assert.deepEqual(s.manager.heartbeats, [{ workerId: 'w1', ids: [1001], hashRate: 1234, threads: 1, busy: 1 }], 'a heartbeat at once');
    await s.clock.advance(LEASE_MS / 3 - 1);
    assert.equal(s.manager.heartbeats.length, 1);
    await s.clock.advance(1);
    assert.equal(s.manager.heartbeats.length, 2, 'the next one a third of the lease later');

    // Long past the first lease's end, the job is still ours: each answer moved its deadline on.
    await s.clock.advance(5 * LEASE_MS);
    s.held.expire(s.clock.now());
    assert.ok(s.held.get(1001), 'the renewed job is still held');
    assert.ok(s.held.get(1001)!.deadline > s.clock.now() + LEASE_MS / 2);

    s.manager.lost.add(1001);
    await s.clock.advance(LEASE_MS / 3);
    assert.equal(s.held.get(1001), undefined, 'dropped when the manager says it is lost');
    assert.ok(s.lines.some((l) => l.includes('lease lost; job dropped') && l.includes('"jobId":1001')));
    await s.clock.advance(LEASE_MS / 3);
    assert.deepEqual(s.manager.heartbeats.at(-1)!.ids, [], 'a dropped job is not heartbeated');

    s.stop.abort();
    await beats.settled();
    const sent = s.manager.heartbeats.length;
    await s.clock.advance(10 * LEASE_MS);
    assert.equal(s.manager.heartbeats.length, sent, 'no heartbeat after stop');
  });

  test('a lease nobody renews (its manager does not answer) runs out and the job is dropped, not before', async () => {
    const s = setup();
    s.manager.failHeartbeats = Infinity;
    s.lease([1001]);
    const beats = new Heartbeats(s.held, { workerId: 'w1', instanceId: 'i-1', threads: 1, hashRate: () => 1 }, s.clock, s.stop.signal, s.logger);
    beats.start(s.link);
    await s.clock.advance(LEASE_MS);
    assert.equal(s.manager.heartbeats[0]!.instanceId, 'i-1');
    assert.ok(s.lines.some((l) => l.includes('manager calls failing; backing off')));
    s.held.expire(s.clock.now());
    assert.ok(s.held.get(1001), 'held up to the end of its lease');
    await s.clock.advance(1);
    s.held.expire(s.clock.now());
    assert.equal(s.held.get(1001), undefined);
    assert.ok(s.lines.some((l) => l.includes('lease ran out before the job started; dropped')));
    s.stop.abort();
    await beats.settled();
  });
});

describe('worker parts: leasing', () => {
  test('a failed lease is retried after a backoff; a worker holding enough waits for room instead of asking; an empty answer at once pauses', async () => {
    const s = setup();
    s.manager.failLeases = 1;
    s.manager.toLease.push([{ id: 1001, data: 'x', iterations: 10 }]);
    const loop = leaseLoop(
      s.link,
      {
        workerId: 'w1',
        leaseWaitMs: 2_000,
        // Room for one job.
        ask: () => (s.held.size === 0 ? { max: 1, maxIterations: 1 } : null),
        took: (from, jobs, leaseMs) => void s.held.add(from, jobs, leaseMs, () => s.link),
        changes: s.changes,
        clock: s.clock,
        logger: s.logger,
      },
      s.stop.signal,
    );
    await settle();
    assert.deepEqual(s.manager.leases, [{ workerId: 'w1', max: 1, maxIterations: 1, waitMs: 2_000 }], 'the first call (it fails)');
    await s.clock.advance(249);
    assert.equal(s.manager.leases.length, 1, 'the first backoff is at least 250 ms');
    await s.clock.advance(251);
    assert.equal(s.manager.leases.length, 2);
    assert.deepEqual(s.held.ids(), [1001]);
    await s.clock.advance(60_000);
    assert.equal(s.manager.leases.length, 2, 'no call while the worker holds enough');

    s.held.drop(s.held.get(1001)!);
    await settle();
    assert.equal(s.manager.leases.length, 3, 'asks at once when there is room again');
    // That answer was empty and came back at once: the next call waits 500–1000 ms.
    await s.clock.advance(499);
    assert.equal(s.manager.leases.length, 3);
    await s.clock.advance(501);
    assert.equal(s.manager.leases.length, 4);
    s.stop.abort();
    await loop;
  });
});

describe('worker parts: deliveries', () => {
  test('results wait for the batching delay while jobs are queued here, then go in one call; the last one goes at once', async () => {
    const s = setup();
    s.lease([1001, 2001, 3001]);
    const out = new Deliveries(s.held, 'w1', 250, s.clock, s.stop.signal, s.logger);
    const [a, b] = [s.run(), s.run()];
    s.held.finish(a, 'ra');
    out.add(a);
    await s.clock.advance(249);
    assert.equal(s.manager.completes.length, 0, 'not before the batching delay');
    s.held.finish(b, 'rb');
    out.add(b);
    await s.clock.advance(1);
    assert.deepEqual(s.manager.completes, [
      {
        workerId: 'w1',
        results: [
          { id: 1001, result: 'ra' },
          { id: 2001, result: 'rb' },
        ],
      },
    ]);
    assert.equal(out.delivered, 2);
    assert.deepEqual(s.held.ids(), [3001], 'delivered jobs are no longer held');

    // Nothing else held here: the last result does not wait for company that is not coming.
    const c = s.run();
    s.held.finish(c, 'rc');
    out.add(c);
    await settle();
    assert.deepEqual(s.manager.completes[1]!.results, [{ id: 3001, result: 'rc' }]);
    assert.equal(s.held.size, 0);
    s.stop.abort();
    await out.settled();
  });

  test('a lone result goes at once, with no timer; one that finishes while another job still runs waits a moment for it', async () => {
    const s = setup();
    s.lease([1001]);
    const out = new Deliveries(s.held, 'w1', 250, s.clock, s.stop.signal, s.logger);
    const a = s.run();
    s.held.finish(a, 'ra');
    out.add(a);
    await settle(); // no time passes: not even a zero timer fires
    assert.deepEqual(s.manager.completes, [{ workerId: 'w1', results: [{ id: 1001, result: 'ra' }] }], 'sent without waiting');

    // Two managers' jobs running: the first result waits; once nothing else is held, both managers' go.
    const other = fakeManager();
    const link2 = new ManagerLink(2, other.client, s.clock, s.logger);
    s.lease([2001]);
    s.held.add(link2, [{ id: 3002, data: 'job-3002', iterations: 10 }], LEASE_MS, () => link2);
    const [b, c] = [s.run(), s.run()];
    s.held.finish(b, 'rb');
    out.add(b);
    await s.clock.advance(FLUSH_DELAY_MS - 1);
    assert.equal(s.manager.completes.length, 1, 'another job is still running: its result is worth the wait');
    s.held.finish(c, 'rc');
    out.add(c);
    await settle();
    assert.deepEqual(s.manager.completes[1]!.results, [{ id: 2001, result: 'rb' }]);
    assert.deepEqual(other.completes, [{ workerId: 'w1', results: [{ id: 3002, result: 'rc' }] }]);
    assert.equal(s.clock.now(), FLUSH_DELAY_MS - 1, 'both went as soon as the last one was in');
    assert.equal(s.clock.pending, 0, 'no flush timer left behind');
    s.stop.abort();
    await out.settled();
  });

  test('a failed delivery is retried after a backoff, with nothing lost and nothing sent twice', async () => {
    const s = setup();
    s.manager.failCompletes = 1;
    s.lease([1001]);
    const out = new Deliveries(s.held, 'w1', 250, s.clock, s.stop.signal, s.logger);
    const a = s.run();
    s.held.finish(a, 'ra');
    out.add(a);
    await s.clock.advance(0);
    assert.equal(s.manager.completes.length, 1, 'the first call (it fails)');
    assert.equal(s.held.undelivered, 1, 'the result is kept');
    assert.ok(s.lines.some((l) => l.includes('manager calls failing; backing off') && l.includes('"call":"complete"')));
    // The first backoff is 250–500 ms.
    await s.clock.advance(249);
    assert.equal(s.manager.completes.length, 1);
    await s.clock.advance(251);
    assert.equal(s.manager.completes.length, 2);
    assert.deepEqual(s.manager.completes[1], s.manager.completes[0], 'the same result again');
    assert.equal(out.delivered, 1);
    assert.equal(s.held.size, 0);
    await s.clock.advance(60_000);
    assert.equal(s.manager.completes.length, 2, 'not sent again once accepted');
    s.stop.abort();
    await out.settled();
  });

  test('a manager answering again (any call) cuts the backoff short; a rejected result is dropped', async () => {
    const s = setup();
    s.manager.failCompletes = 1;
    s.manager.lost.add(2001);
    s.lease([1001, 2001]);
    const out = new Deliveries(s.held, 'w1', 250, s.clock, s.stop.signal, s.logger);
    const [a, b] = [s.run(), s.run()];
    s.held.finish(a, 'ra');
    s.held.finish(b, 'rb');
    out.add(a);
    out.add(b);
    await s.clock.advance(5);
    assert.equal(s.manager.completes.length, 1);
    s.link.answered(); // e.g. a heartbeat got through
    await settle();
    assert.equal(s.manager.completes.length, 2, 'retried at once, not after the backoff');
    assert.equal(s.clock.now(), 5);
    assert.equal(out.delivered, 1);
    assert.equal(s.held.size, 0, 'the rejected result is dropped too');
    assert.ok(s.lines.some((l) => l.includes('result rejected (the lease was lost); dropped') && l.includes('"jobId":2001')));
    s.stop.abort();
    await out.settled();
  });
});

describe('worker parts: timed exits', () => {
  function watch(s: ReturnType<typeof setup>, limits: { idleTimeoutMs?: number; noManagerTimeoutMs?: number; maxLifetimeMs?: number }) {
    const exits: TimedExit[] = [];
    const w = new ExitWatch(
      { idleTimeoutMs: 60_000, noManagerTimeoutMs: 60_000, maxLifetimeMs: 0, ...limits },
      {
        held: s.held,
        runningChunks: () => 0,
        lastAnswerAt: () => s.link.lastAnswerAt,
        firstAnswerAt: () => s.link.firstAnswerAt,
        stopping: () => exits.length > 0,
        onExit: (reason) => {
          exits.push(reason);
          w.stop();
        },
        clock: s.clock,
      },
    );
    w.start();
    return exits;
  }

  test('the idle exit fires exactly idleTimeoutMs after the last job left, not before', async () => {
    const s = setup();
    s.link.answered();
    const exits = watch(s, { idleTimeoutMs: 1_000 });
    s.lease([1001]);
    await s.clock.advance(500);
    s.held.drop(s.held.get(1001)!);
    await s.clock.advance(999);
    assert.deepEqual(exits, [], 'not before the idle timeout');
    await s.clock.advance(1);
    assert.deepEqual(exits, ['idle']);
    await s.clock.advance(10_000);
    assert.deepEqual(exits, ['idle'], 'once');
    assert.equal(s.clock.pending, 0, 'the watch stopped its timer');
  });

  test('idleness counts from the first answer: a start slower than the idle timeout is not idle', async () => {
    const s = setup();
    const exits = watch(s, { idleTimeoutMs: 300, noManagerTimeoutMs: 60_000 });
    await s.clock.advance(5_000);
    assert.deepEqual(exits, [], 'idle before any manager said there was nothing to do');
    s.link.answered();
    await s.clock.advance(299);
    assert.deepEqual(exits, [], 'idle before the timeout had passed since that answer');
    // The watch looks every tenth of the shortest limit: at most 30 ms late here.
    await s.clock.advance(31);
    assert.deepEqual(exits, ['idle']);
  });

  test('no manager answering for noManagerTimeoutMs: the no-manager exit, even while jobs are held', async () => {
    const s = setup();
    const exits = watch(s, { noManagerTimeoutMs: 2_000, idleTimeoutMs: 500 });
    s.lease([1001]);
    s.held.extend(s.link, [1001], 1e9);
    await s.clock.advance(1_000);
    s.link.answered();
    await s.clock.advance(1_999);
    assert.deepEqual(exits, []);
    await s.clock.advance(1);
    assert.deepEqual(exits, ['no-manager']);
  });
});

describe('worker parts: dispatch', () => {
  test('chains handed back unfinished queue behind the others: with more chains held than lanes, each runs before any runs again', () => {
    const s = setup();
    s.held.add(
      s.link,
      [1, 2, 3, 4, 5].map((id) => ({ id, data: `chain-${id}`, iterations: 1_000_000 })),
      LEASE_MS,
      () => s.link,
    );
    const turns: number[][] = [];
    for (let round = 0; round < 4; round++) {
      const chunk = s.held.nextChunk(1, 1, 2); // two lanes: two chains a chunk
      turns.push(chunk.map((j) => j.id));
      for (const j of chunk) assert.ok(s.held.suspend(j, { digest: new Uint8Array(64), remaining: 500_000 }));
    }
    // A job leased now waits behind the chains already queued, and is not skipped.
    s.lease([6]);
    for (let round = 0; round < 3; round++) turns.push(s.held.nextChunk(1, 1, 2).map((j) => j.id));
    assert.deepEqual(turns, [
      [1, 2],
      [3, 4],
      [5, 1],
      [2, 3],
      [4, 5],
      [1, 2],
      [3, 6],
    ]);
    assert.equal(s.held.get(1)!.progress?.remaining, 500_000, 'a chain goes on from where it stopped');
  });

  test('a tiny chunk is hashed on the spot, a big one goes to a thread and comes back in pieces until done', async () => {
    const s = setup();
    const done: HeldJob[] = [];
    const dispatch = new Dispatch(1, s.held, (j) => done.push(j), s.changes, s.stop.signal, s.logger);
    try {
      s.held.add(s.link, [{ id: 1, data: 'tiny', iterations: 3 }], LEASE_MS, () => s.link);
      dispatch.pump();
      assert.equal(dispatch.runningChunks, 0, 'no thread for three steps');
      assert.deepEqual(
        done.map((j) => [j.id, j.result]),
        [[1, iteratedSha512Js('tiny', 3)]],
      );
      // Enough steps for several chunks (each stops after about 20 ms), whatever the path.
      s.held.add(s.link, [{ id: 2, data: 'big', iterations: 3_000_000 }], LEASE_MS, () => s.link);
      dispatch.pump();
      assert.equal(dispatch.runningChunks, 1);
      const job = s.held.get(2)!;
      let resumed = 0;
      for (let i = 0; i < 10_000 && job.state !== 'done'; i++) {
        await s.changes.wait(AbortSignal.timeout(60_000));
        if (job.progress) resumed++;
      }
      assert.equal(job.result, iteratedSha512Js('big', 3_000_000));
      assert.ok(resumed > 0, 'the chain came back unfinished and went on');
    } finally {
      s.stop.abort();
      await dispatch.destroy();
    }
  });
});
