import assert from 'node:assert/strict';
import { fdatasync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DynworkError } from '../src/errors.js';
import { GroupCommit } from '../src/runtime/manager/group-commit.js';
import { JobStore } from '../src/runtime/store/job-store.js';
import type { SyncFile } from '../src/runtime/store/wal-sync.js';
import { syncLevels, tempDir } from './helpers.js';

describe('GroupCommit', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: JobStore;
  let groups: number;
  /** The WAL syncs the store asks for, as on a slow disk (off the event loop): real fdatasyncs, counted; while `hold`, each waits in `held` until called. */
  let syncs: { calls: number; hold: boolean; held: (() => void)[]; fail: NodeJS.ErrnoException | null };
  beforeEach(() => {
    tmp = tempDir();
    syncs = { calls: 0, hold: false, held: [], fail: null };
    const syncFile: SyncFile = (fd, done) => {
      syncs.calls++;
      const go = (): void => (syncs.fail ? done(syncs.fail) : fdatasync(fd, done));
      if (syncs.hold) syncs.held.push(go);
      else go();
    };
    store = JobStore.open(join(tmp.dir, 'queue.db'), 1, { disk: { sync: syncFile, slowMs: -1 } });
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

  test('every group commits without a sync of its own; one with a durable write asks for one WAL sync, one of soft writes only (leases, extensions, reservations) for none', async () => {
    const { levels } = syncLevels(store);
    const writes = new GroupCommit(store);
    const asked: number[] = [];
    const count = async (p: Promise<unknown>): Promise<void> => {
      const before = syncs.calls;
      await p;
      asked.push(syncs.calls - before);
    };
    await count(writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000)));
    await count(Promise.all([writes.run(() => store.lease('w1', 1, Infinity, 60_000, 1001), { soft: true }), writes.run(() => store.reserve(1, 'r', 60_000, 1001), { soft: true })]));
    await count(Promise.all([writes.run(() => store.lease('w1', 1, Infinity, 60_000, 1002), { soft: true }), writes.run(() => store.enqueue([{ data: 'b', iterations: 1 }], 1002))]));
    assert.deepEqual(levels, [1, 1, 1], 'SQLite syncs none of the three commits itself (1 is NORMAL)');
    assert.deepEqual(asked, [1, 0, 1], 'enqueue; lease + reserve; lease + enqueue');
  });

  test('a durable write is answered only once the WAL sync after its commit is done; writes asked for meanwhile, soft ones too, wait and then commit as one group with one sync', async () => {
    const writes = new GroupCommit(store);
    syncs.hold = true;
    const answered: string[] = [];
    const enqueued = writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000)).then((ids) => (answered.push('enqueue a'), ids));
    await turnsUntil(() => syncs.held.length === 1);
    const leased = writes.run(() => store.lease('w1', 1, Infinity, 60_000, 1001), { soft: true }).then((jobs) => (answered.push('lease'), jobs));
    await turns(5);
    const more = writes.run(() => store.enqueue([{ data: 'b', iterations: 1 }], 1002)).then((ids) => (answered.push('enqueue b'), ids));
    await turns(20);
    assert.deepEqual(answered, [], 'nothing is answered while the sync runs');
    assert.equal(groups, 1, 'nor is anything else committed');
    assert.equal(syncs.calls, 1);
    syncs.held.shift()!();
    const ids = await enqueued;
    await turnsUntil(() => syncs.held.length === 1);
    assert.equal(groups, 2, 'the lease and the second enqueue commit together');
    assert.deepEqual(answered, ['enqueue a'], 'and wait for their sync');
    syncs.held.shift()!();
    const [jobs, idsB] = await Promise.all([leased, more]);
    assert.deepEqual(answered, ['enqueue a', 'lease', 'enqueue b']);
    assert.deepEqual(
      jobs.map((j) => j.id),
      ids,
    );
    assert.equal(idsB.length, 1);
    assert.equal(syncs.calls, 2);
  });

  test('a failed sync fails the writes that waited for it and every write after it, saying the disk failed; a write that failed on its own keeps its error', async () => {
    const writes = new GroupCommit(store);
    syncs.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const saved = writes.run(() => store.enqueue([{ data: 'a', iterations: 1 }], 1000));
    const refused = writes.run(() => {
      throw new Error('refused');
    });
    const diskFailed = (err: unknown): boolean => err instanceof DynworkError && err.code === 'store_error' && /the disk failed to save its log \(EIO/.test(err.message);
    await assert.rejects(saved, diskFailed);
    await assert.rejects(refused, /refused/);
    syncs.fail = null;
    await assert.rejects(
      writes.run(() => store.enqueue([{ data: 'b', iterations: 1 }], 1001)),
      diskFailed,
    );
    assert.throws(() => store.enqueue([{ data: 'c', iterations: 1 }], 1002), diskFailed);
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

/** Lets the event loop run `n` turns (the store's syncs and the groups' answers happen there). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Lets the event loop run until `ok()` holds, at most 1,000 turns. */
async function turnsUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !ok(); i++) await turns(1);
  assert.ok(ok(), 'the condition never held');
}
