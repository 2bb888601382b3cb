import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { GroupCommit } from '../src/runtime/manager/group-commit.js';
import { JobStore } from '../src/runtime/store/job-store.js';
import { syncLevels, tempDir } from './helpers.js';

describe('GroupCommit', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: JobStore;
  let groups: number;
  beforeEach(() => {
    tmp = tempDir();
    store = JobStore.open(join(tmp.dir, 'queue.db'), 1);
    groups = 0;
    const group = store.group.bind(store);
    // Counts the outer transactions only: a group inside a group is a savepoint.
    let depth = 0;
    store.group = <T>(fn: () => T, synced?: boolean): T => {
      if (depth++ === 0) groups++;
      try {
        return group(fn, synced);
      } finally {
        depth--;
      }
    };
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  test('a group of soft writes only (leases, extensions, reservations) commits without fsync; one durable write makes the group synced', async () => {
    const { levels } = syncLevels(store);
    const writes = new GroupCommit(store);
    await writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000));
    await Promise.all([writes.run(() => store.lease('w1', 1, Infinity, 60_000, 1001), { soft: true }), writes.run(() => store.reserve(1, 'r', 60_000, 1001), { soft: true })]);
    await Promise.all([writes.run(() => store.lease('w1', 1, Infinity, 60_000, 1002), { soft: true }), writes.run(() => store.enqueue([{ data: 'b', iterations: 1 }], 1002))]);
    assert.deepEqual(levels, [2, 1, 2], 'enqueue; lease + reserve; lease + enqueue');
  });

  test('the writes of one turn share one transaction, and each is answered only after it', async () => {
    const writes = new GroupCommit(store);
    const answers = [1, 2, 3].map((i) => writes.run(() => store.enqueue([{ data: `j${i}`, iterations: i }], 1000)));
    const lease = writes.run(() => store.lease('w1', 10, Infinity, 60_000, 1001));
    // Nothing runs before the turn ends.
    assert.equal(store.counts().queued, 0);
    const ids = (await Promise.all(answers)).flat();
    assert.equal(ids.length, 3);
    // The lease came after the enqueues in the same group, and saw them.
    assert.deepEqual(
      (await lease).map((j) => j.id),
      ids,
    );
    assert.equal(groups, 1);
    assert.deepEqual(store.counts(), { queued: 0, running: 3, completed: 0, failed: 0, delivering: 0, queuedIterations: 0 });
  });

  test('a write that throws is undone alone: the others commit, and the counts follow the database', async () => {
    const writes = new GroupCommit(store);
    const a = writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000));
    const bad = writes.run(() => {
      store.enqueue([{ data: 'b', iterations: 5 }], 1000);
      throw new Error('refused');
    });
    const c = writes.run(() => store.enqueue([{ data: 'c', iterations: 1 }], 1000));
    await assert.rejects(bad, /refused/);
    const ids = [...(await a), ...(await c)];
    assert.equal(groups, 1);
    assert.deepEqual(store.counts(), { queued: 2, running: 0, completed: 0, failed: 0, delivering: 0, queuedIterations: 2 });
    assert.deepEqual(
      store.list('queued', 10).map((j) => j.id),
      ids,
    );
  });

  test('writes of later turns go in later groups', async () => {
    const writes = new GroupCommit(store);
    await writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000));
    await writes.run(() => store.enqueue([{ data: 'b', iterations: 1 }], 1000));
    assert.equal(groups, 2);
    assert.equal(store.counts().queued, 2);
  });
});
