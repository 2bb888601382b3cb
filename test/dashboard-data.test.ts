import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assemble } from '../src/runtime/manager/dashboard.js';
import { History, mergeHistories } from '../src/runtime/manager/history.js';
import type { DashboardPart, ManagerStatus, WorkerView } from '../src/protocol/index.js';

const sample = (at: number, queued: number, workers = 1) => ({ at, queued, running: 1, completedPerSec: 2, workers });

describe('dashboard data', () => {
  test('the history ring keeps a bounded last hour, oldest first, one sample per interval', () => {
    const h = new History(10_000, 3);
    for (let i = 0; i < 5; i++) h.record(sample(i * 10_000, i));
    assert.deepEqual(
      h.list().map((s) => s.queued),
      [2, 3, 4],
    );
    h.record(sample(40_000, 9));
    assert.deepEqual(
      h.list().map((s) => s.queued),
      [2, 3, 9],
      'a second sample in one interval replaces the first',
    );
  });

  test("managers' histories add up by interval; workers take the largest count", () => {
    const merged = mergeHistories([
      [sample(0, 1, 2), sample(10, 2, 2)],
      [sample(10, 5, 3), sample(20, 1, 1)],
    ]);
    assert.deepEqual(merged, [
      { at: 0, queued: 1, running: 1, completedPerSec: 2, workers: 2 },
      { at: 10, queued: 7, running: 2, completedPerSec: 4, workers: 3 },
      { at: 20, queued: 1, running: 1, completedPerSec: 2, workers: 1 },
    ]);
  });

  test('workers seen by several managers are one row; a silent manager stays listed as not answering', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    const w = (id: string, lastSeen: number, over: Partial<WorkerView> = {}): WorkerView => ({
      workerId: id,
      instanceId: id,
      lastSeenAt: new Date(now - lastSeen).toISOString(),
      firstSeenAt: new Date(now - 60_000).toISOString(),
      busy: 0,
      threads: 1,
      hashRate: 1e6,
      jobsDone: 2,
      holding: 0,
      ...over,
    });
    const part = (index: number, workers: WorkerView[]): DashboardPart => ({
      status: {
        manager: { index, url: `http://m${index}`, leader: index === 1, startedAt: '', version: '1' },
        queue: { queued: 0, running: 0, completed: 0, delivering: 0, failed: 0, oldestQueuedAgeMs: null, queuedIterations: 0 },
        totals: { enqueued: 0, completed: 0, pulled: 0, leaseExpiries: 0, failed: 0 },
        throughput: 0,
        workers,
        healthy: true,
        events: [{ at: '2026-11-30T11:59:00.000Z', message: `from ${index}` }],
      } satisfies ManagerStatus,
      history: [],
    });
    const d = assemble(
      'c',
      1,
      [
        { index: 1, url: 'http://m1', part: part(1, [w('a', 1000, { holding: 2 }), w('b', 40_000)]) },
        { index: 2, url: 'http://m2', part: part(2, [w('a', 500)]) },
        { index: 3, url: 'http://m3', part: null },
      ],
      now,
    );
    assert.deepEqual(
      d.workers.map((x) => [x.workerId, x.state, x.jobsDone, x.holding, x.managers]),
      [
        ['a', 'working', 4, 2, [1, 2]],
        ['b', 'silent', 2, 0, [1]],
      ],
    );
    assert.deepEqual(
      d.managers.map((m) => [m.index, m.up, m.leader]),
      [
        [1, true, true],
        [2, true, false],
        [3, false, false],
      ],
    );
    assert.deepEqual(
      d.events.map((e) => [e.manager, e.message]),
      [
        [1, 'from 1'],
        [2, 'from 2'],
      ],
    );
  });
});
