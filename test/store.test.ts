import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { JobStore } from '../src/runtime/store/job-store.js';
import { makeJobId, ownerOf, seqOf } from '../src/protocol/index.js';
import { MIGRATIONS } from '../src/runtime/store/migrations.js';
import { syncLevels, tempDir } from './helpers.js';

const R = (c: string) => c.repeat(128);

describe('JobStore', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let store: JobStore;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'queue.db');
    store = JobStore.open(file, 3);
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  test('ids are unique, increasing and name their manager', () => {
    const ids = store.enqueue(
      [
        { data: 'a', iterations: 1 },
        { data: 'b', iterations: 2 },
      ],
      1000,
    );
    const more = store.enqueue([{ data: 'c', iterations: 1 }], 1001);
    assert.equal(new Set([...ids, ...more]).size, 3);
    assert.ok(ids[0]! < ids[1]! && ids[1]! < more[0]!);
    for (const id of [...ids, ...more]) assert.equal(ownerOf(id), 3);
    assert.deepEqual(store.counts(), { queued: 3, running: 0, completed: 0, failed: 0, delivering: 0, queuedIterations: 4 });
  });

  test('lease hands out oldest first, at most max, within the iterations budget', () => {
    const ids = store.enqueue(
      [
        { data: 'a', iterations: 10 },
        { data: 'b', iterations: 10 },
        { data: 'c', iterations: 10 },
      ],
      0,
    );
    assert.deepEqual(
      store.lease('w1', 10, 15, 1000, 1).map((j) => j.id),
      [ids[0]],
    );
    // The first job is always given, even over the budget.
    assert.deepEqual(
      store.lease('w1', 10, 5, 1000, 1).map((j) => j.id),
      [ids[1]],
    );
    const last = store.lease('w2', 10, Infinity, 1000, 1);
    assert.deepEqual(last, [{ id: ids[2], data: 'c', iterations: 10 }]);
    assert.deepEqual(store.lease('w2', 10, Infinity, 1000, 1), []);
    assert.equal(store.counts().running, 3);
  });

  test('one lease answer carries at most maxBytes of data, but always one job', () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const ids = store.enqueue(
      [big, big, big, 'small'].map((data) => ({ data, iterations: 1 })),
      0,
    );
    assert.deepEqual(
      store.lease('w', 10, Infinity, 1000, 1, 7 * 1024 * 1024).map((j) => j.id),
      ids.slice(0, 2),
    );
    assert.deepEqual(
      store.lease('w', 10, Infinity, 1000, 1, 1024).map((j) => j.id),
      [ids[2]],
    );
    assert.deepEqual(
      store.lease('w', 10, Infinity, 1000, 1, 1024).map((j) => j.id),
      [ids[3]],
    );
  });

  test('an expired lease puts the job back; a live one does not (controlled clock)', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('w1', 1, Infinity, 30_000, 1_000);
    assert.deepEqual(store.expireLeases(5, 30_999), { requeued: [], failed: [] });
    assert.deepEqual(store.expireLeases(5, 31_000), { requeued: [id], failed: [] });
    assert.equal(store.get(id!)?.status, 'queued');
    const again = store.lease('w2', 1, Infinity, 30_000, 31_001);
    assert.equal(again[0]?.id, id);
    assert.equal(store.get(id!)?.attempts, 2);
  });

  test('heartbeat extends only leases the worker still holds', () => {
    const [a, b] = store.enqueue(
      [
        { data: 'a', iterations: 1 },
        { data: 'b', iterations: 1 },
      ],
      0,
    );
    store.lease('w1', 1, Infinity, 1000, 0);
    store.lease('w2', 1, Infinity, 1000, 0);
    assert.deepEqual(store.extend('w1', [a!, b!], 1000, 900), { extended: [a], lost: [b] });
    assert.deepEqual(store.expireLeases(5, 1500), { requeued: [b], failed: [] });
    assert.equal(store.get(a!)?.status, 'running');
  });

  test('leases, their extensions and reserved results commit without waiting for the disk; enqueues, completions and acknowledgements wait for it', () => {
    // A power cut can only be simulated by the disk, so read the sync level each write commits under (1 NORMAL, 2 FULL).
    const { db, levels } = syncLevels(store);
    const [id] = store.enqueue([{ data: 'a', iterations: 1 }], 0);
    store.lease('w', 1, Infinity, 1000, 0);
    store.extend('w', [id!], 1000, 10);
    store.complete('w', [{ id: id!, result: R('a') }], 20);
    store.reserve(1, 'r', 1000, 30);
    store.ack('r', 40);
    assert.deepEqual(levels, [2, 1, 1, 2, 1, 2], 'enqueue, lease, extend, complete, reserve, ack');
    assert.equal(db.pragma('synchronous', { simple: true }), 2, 'synced again after the last soft write');
  });

  test('completion is idempotent: first completion wins, late and foreign results are rejected', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('w1', 1, Infinity, 1000, 0);
    assert.deepEqual(store.complete('w2', [{ id: id!, result: R('b') }], 1), { accepted: [], rejected: [id] });
    assert.deepEqual(store.complete('w1', [{ id: id!, result: R('a') }], 2), { accepted: [id], rejected: [] });
    assert.deepEqual(store.complete('w1', [{ id: id!, result: R('c') }], 3), { accepted: [], rejected: [id] });
    assert.deepEqual(
      store.complete(
        'w1',
        [
          { id: 999_001, result: R('c') },
          { id: 5_004, result: R('c') },
        ],
        3,
      ),
      {
        accepted: [],
        rejected: [999_001, 5_004],
      },
    );
    assert.equal(store.get(id!)?.result, R('a'));
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 1, failed: 0, delivering: 0, queuedIterations: 0 });
  });

  test('one delivery of many results: each held job is taken once, in the order sent, with its first result', () => {
    const ids = store.enqueue(
      [1, 2, 3, 4].map((iterations) => ({ data: 'x', iterations })),
      0,
    );
    store.lease('w1', 3, Infinity, 1000, 0);
    store.lease('w2', 1, Infinity, 1000, 0);
    const [a, b, c, d] = ids as [number, number, number, number];
    const out = store.complete(
      'w1',
      [
        { id: c, result: R('c') },
        { id: a, result: R('a') },
        { id: c, result: R('again') },
        { id: d, result: R('not w1s') },
        { id: 999_001, result: R('foreign') },
      ],
      5,
    );
    assert.deepEqual(out, { accepted: [c, a], rejected: [c, d, 999_001] });
    assert.equal(store.get(c)?.result, R('c'));
    assert.equal(store.get(b)?.status, 'running');
    assert.equal(store.get(d)?.status, 'running');
    assert.deepEqual(
      store.get(a)?.history?.map((h) => [h.workerId, h.outcome]),
      [['w1', 'completed']],
    );
    assert.deepEqual(
      store.get(b)?.history?.map((h) => h.outcome),
      ['running'],
    );
    assert.deepEqual(store.counts(), { queued: 0, running: 2, completed: 2, failed: 0, delivering: 0, queuedIterations: 0 });
    assert.deepEqual(Object.fromEntries(store.holdingsByWorker()), { w1: { jobs: 1, iterations: 2 }, w2: { jobs: 1, iterations: 4 } });
  });

  test('a worker that comes back after its lease expired cannot complete the job', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('frozen', 1, Infinity, 1000, 0);
    store.expireLeases(5, 2000);
    store.lease('other', 1, Infinity, 1000, 2001);
    assert.deepEqual(store.complete('frozen', [{ id: id!, result: R('f') }], 2500).rejected, [id]);
    assert.deepEqual(store.complete('other', [{ id: id!, result: R('a') }], 2600).accepted, [id]);
  });

  test('results are handed out under a receipt, oldest completion first, and pulled only when acknowledged', () => {
    const ids = store.enqueue(
      [1, 2, 3].map((i) => ({ data: String(i), iterations: 1 })),
      0,
    );
    store.lease('w', 3, Infinity, 1000, 0);
    store.complete('w', [{ id: ids[2]!, result: R('c') }], 10);
    store.complete('w', [{ id: ids[0]!, result: R('a') }], 20);
    store.complete('w', [{ id: ids[1]!, result: R('b') }], 30);
    assert.deepEqual(store.reserve(2, 'r1', 1000, 40), [
      { id: ids[2], result: R('c') },
      { id: ids[0], result: R('a') },
    ]);
    // Held results are nobody else's.
    assert.deepEqual(store.reserve(5, 'r2', 1000, 41), [{ id: ids[1], result: R('b') }]);
    assert.deepEqual(store.reserve(5, 'r3', 1000, 42), []);
    assert.equal(store.counts().delivering, 3);
    assert.equal(store.get(ids[0]!)?.status, 'completed');
    assert.equal(store.ack('r1', 50), 2);
    assert.equal(store.ack('r1', 51), 0, 'a second acknowledgement changes nothing');
    assert.equal(store.get(ids[0]!)?.status, 'pulled');
    assert.equal(store.get(ids[0]!)?.result, R('a'));
    assert.equal(store.release('r2'), 1);
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 1, failed: 0, delivering: 0, queuedIterations: 0 });
    assert.deepEqual(store.reserve(5, 'r4', 1000, 60), [{ id: ids[1], result: R('b') }]);
  });

  test('a receipt that runs out returns its results, and a late acknowledgement takes nothing', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('w', 1, Infinity, 1000, 0);
    store.complete('w', [{ id: id!, result: R('a') }], 1);
    store.reserve(1, 'lost', 500, 10);
    assert.equal(store.expireReceipts(509), 0);
    assert.equal(store.expireReceipts(510), 1);
    assert.equal(store.ack('lost', 511), 0);
    assert.equal(store.get(id!)?.status, 'completed');
    assert.deepEqual(store.reserve(1, 'again', 500, 520), [{ id: id!, result: R('a') }]);
  });

  test('results being delivered survive a restart and still return when their receipt runs out', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('w', 1, Infinity, 1000, 0);
    store.complete('w', [{ id: id!, result: R('a') }], 1);
    store.reserve(1, 'held', 100, 10);
    store.close();
    store = JobStore.open(file, 3);
    assert.equal(store.counts().delivering, 1);
    assert.equal(store.expireReceipts(110), 1);
    assert.equal(store.counts().completed, 1);
  });

  test("a plain pull's results are held in memory: nobody else's while held, one write when acknowledged, still completed after a rollback or a restart", () => {
    const ids = store.enqueue(
      [1, 2, 3, 4].map((i) => ({ data: String(i), iterations: 1 })),
      0,
    );
    store.lease('w', 4, Infinity, 1000, 0);
    ids.forEach((id, i) => store.complete('w', [{ id, result: R(String(i)) }], 10 + i));
    const { db } = store as unknown as { db: Database.Database };
    const changes = (): number => db.prepare<[], { n: number }>('SELECT total_changes() AS n').get()!.n;
    const before = changes();
    assert.deepEqual(store.reserve(2, 'plain', 1000, 20, true), [
      { id: ids[0], result: R('0') },
      { id: ids[1], result: R('1') },
    ]);
    assert.equal(changes(), before, 'nothing written to hold them');
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 2, failed: 0, delivering: 2, queuedIterations: 0 });
    // Held results are nobody else's, by a receipt in the database or another plain pull.
    assert.deepEqual(store.reserve(1, 'receipt', 1000, 21), [{ id: ids[2], result: R('2') }]);
    assert.deepEqual(store.reserve(5, 'plain2', 1000, 22, true), [{ id: ids[3], result: R('3') }]);
    assert.deepEqual(store.reserve(5, 'plain3', 1000, 23, true), []);
    const acked = changes();
    assert.equal(store.ack('plain', 30), 2);
    assert.equal(changes() - acked, 2, 'one row change a result');
    assert.equal(store.ack('plain', 31), 0, 'a second acknowledgement changes nothing');
    assert.equal(store.get(ids[0]!)?.status, 'pulled');
    assert.equal(store.release('plain2'), 1);
    assert.equal(store.get(ids[3]!)?.status, 'completed');
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 1, failed: 0, delivering: 1, queuedIterations: 0 });

    // A hold taken in a write that fails is undone with it.
    assert.throws(
      () =>
        store.group(() => {
          store.reserve(5, 'doomed', 1000, 40, true);
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 1, failed: 0, delivering: 1, queuedIterations: 0 });
    assert.equal(store.ack('doomed', 41), 0);

    // An answer its reader never takes in runs out like a receipt, and a late acknowledgement takes nothing.
    assert.deepEqual(store.reserve(5, 'stuck', 100, 42, true), [{ id: ids[3], result: R('3') }]);
    assert.equal(store.expireReceipts(141), 0);
    assert.equal(store.expireReceipts(142), 1);
    assert.equal(store.ack('stuck', 143), 0);
    assert.equal(store.get(ids[3]!)?.status, 'completed');

    // A hold outlives nothing: after a restart (the answer never went out) the result is handed out again.
    assert.deepEqual(store.reserve(5, 'cut', 1000, 50, true), [{ id: ids[3], result: R('3') }]);
    store.close();
    store = JobStore.open(file, 3);
    assert.deepEqual(store.counts(), { queued: 0, running: 0, completed: 1, failed: 0, delivering: 1, queuedIterations: 0 });
    assert.deepEqual(store.reserve(5, 'again', 1000, 60, true), [{ id: ids[3], result: R('3') }]);
  });

  test('pulled results stay readable for the retention window, then are purged', () => {
    const [id] = store.enqueue([{ data: 'x', iterations: 1 }], 0);
    store.lease('w', 1, Infinity, 1000, 0);
    store.complete('w', [{ id: id!, result: R('a') }], 1);
    store.reserve(1, 'r', 1000, 100);
    store.ack('r', 100);
    assert.equal(store.purge(100), 0);
    assert.equal(store.get(id!)?.status, 'pulled');
    assert.equal(store.purge(101), 1);
    assert.equal(store.get(id!), null);
    // A purged id is never handed out again.
    const [next] = store.enqueue([{ data: 'y', iterations: 1 }], 200);
    assert.ok(next! > id!);
  });

  test('pulled, failed and cancelled jobs are purged with their attempts once past retention; others stay', () => {
    const [pulled, failed, cancelled, running] = store.enqueue(
      [1, 2, 3, 4].map((iterations) => ({ data: 'x', iterations })),
      0,
    ) as [number, number, number, number];
    store.lease('w', 4, Infinity, 10, 0);
    store.complete('w', [{ id: pulled, result: R('a') }], 1);
    store.reserve(1, 'r', 1000, 1);
    store.ack('r', 1);
    store.cancel(cancelled, 2);
    store.extend('w', [running], 1_000_000, 3);
    assert.deepEqual(store.expireLeases(1, 10), { requeued: [], failed: [failed] });
    const attempts = () =>
      (store as unknown as { db: Database.Database }).db
        .prepare<[], { seq: number }>('SELECT seq FROM attempts ORDER BY seq')
        .all()
        .map((r) => r.seq);
    // A row for each attempt that ended other than by completing; the pulled and running jobs' attempts are on their rows.
    assert.deepEqual(attempts(), [seqOf(failed), seqOf(cancelled)]);
    assert.equal(store.purge(11), 3);
    assert.deepEqual(
      [pulled, failed, cancelled, running].map((id) => store.get(id)?.status ?? null),
      [null, null, null, 'running'],
    );
    assert.deepEqual(attempts(), []);
    assert.deepEqual(
      store.get(running)?.history?.map((a) => [a.attempt, a.workerId, a.outcome]),
      [[1, 'w', 'running']],
      'the running job keeps its attempt',
    );
  });

  test('no statement the store runs as it serves scans the whole table (a sweep each second at a million jobs would)', () => {
    const { db, stmt } = store as unknown as { db: Database.Database; stmt: Record<string, Database.Statement> };
    // Once at start-up, and the operator's listing (it stops at its limit): the only full scans allowed.
    const allowed = new Set(['countByState', 'list']);
    const scans: string[] = [];
    for (const [name, statement] of Object.entries(stmt)) {
      // Every ? outside a string literal is a parameter.
      const params = (statement.source.replace(/'[^']*'/g, '').match(/\?/g) ?? []).length;
      const plan = db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${statement.source}`).all(...Array<number>(params).fill(1));
      for (const { detail } of plan) if (/^SCAN (jobs|attempts)\b(?! USING)/.test(detail) && !allowed.has(name)) scans.push(`${name}: ${detail}`);
    }
    assert.deepEqual(scans, []);
  });

  test('a poison job is failed after maxAttempts expired leases and never handed out again', () => {
    const [id] = store.enqueue([{ data: 'poison', iterations: 1 }], 0);
    let t = 0;
    for (let attempt = 1; attempt <= 3; attempt++) {
      assert.equal(store.lease(`w${attempt}`, 1, Infinity, 100, t).length, 1);
      t += 200;
      const r = store.expireLeases(3, t);
      assert.deepEqual(r, attempt < 3 ? { requeued: [id], failed: [] } : { requeued: [], failed: [id] });
    }
    assert.equal(store.get(id!)?.status, 'failed');
    assert.deepEqual(store.lease('w9', 1, Infinity, 100, t + 1), []);
    assert.equal(store.counts().failed, 1);
  });

  test('state and counts survive reopening the file', () => {
    const ids = store.enqueue(
      [
        { data: 'a', iterations: 5 },
        { data: 'b', iterations: 7 },
      ],
      0,
    );
    store.lease('w', 1, Infinity, 1000, 0);
    store.close();
    store = JobStore.open(file, 3);
    assert.deepEqual(store.counts(), { queued: 1, running: 1, completed: 0, failed: 0, delivering: 0, queuedIterations: 7 });
    assert.equal(store.get(ids[1]!)?.status, 'queued');
  });

  test('what each worker holds is kept across lease, completion, expiry, cancel and reopening', () => {
    const held = () => Object.fromEntries([...store.holdingsByWorker()].map(([w, h]) => [w, { ...h }]));
    const ids = store.enqueue(
      [5, 7, 11, 13].map((iterations) => ({ data: 'x', iterations })),
      0,
    );
    store.lease('w1', 2, Infinity, 1_000, 0);
    store.lease('w2', 1, Infinity, 60_000, 0);
    assert.deepEqual(held(), { w1: { jobs: 2, iterations: 12 }, w2: { jobs: 1, iterations: 11 } });
    // A rejected (foreign) result changes nothing; an accepted one returns its iterations.
    store.complete(
      'w1',
      [
        { id: ids[0]!, result: 'r' },
        { id: ids[2]!, result: 'r' },
      ],
      1,
    );
    assert.deepEqual(held(), { w1: { jobs: 1, iterations: 7 }, w2: { jobs: 1, iterations: 11 } });
    store.expireLeases(5, 1_000);
    assert.deepEqual(held(), { w2: { jobs: 1, iterations: 11 } });
    store.lease('w3', 1, Infinity, 60_000, 1_001);
    store.cancel(ids[2]!, 1_002);
    assert.deepEqual(held(), { w3: { jobs: 1, iterations: 7 } });
    assert.deepEqual([...store.leaseHolders()], [['w3', 1]]);
    // A write that fails is undone with the rest of its transaction, holdings too.
    assert.throws(
      () =>
        store.group(() => {
          store.lease('w4', 1, Infinity, 60_000, 1_003);
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.deepEqual(held(), { w3: { jobs: 1, iterations: 7 } });
    store.close();
    store = JobStore.open(file, 3);
    assert.deepEqual(held(), { w3: { jobs: 1, iterations: 7 } });
  });

  test('a database newer than the code is refused', () => {
    store.close();
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => JobStore.open(file, 3), /schema version 99, newer than this dynwork/);
    store = JobStore.open(join(tmp.dir, 'other.db'), 3);
  });

  test('a queue written before attempts moved onto the job rows tells the same stories after the upgrade', () => {
    store.close();
    const old = join(tmp.dir, 'v3.db');
    const db = new Database(old);
    db.pragma('journal_mode = WAL');
    db.transaction(() => {
      for (const sql of MIGRATIONS.slice(0, 3)) db.exec(sql);
      db.pragma('user_version = 3');
      // What the old store wrote: a row opened at every lease, closed at completion, expiry or cancel.
      const job = db.prepare(
        'INSERT INTO jobs (seq, state, iterations, data, enqueued_at, attempts, tries, lease_owner, lease_expires_at, result, completed_at) VALUES (?, ?, 1, ?, 0, ?, ?, ?, ?, ?, ?)',
      );
      const attempt = db.prepare('INSERT INTO attempts (seq, attempt, worker_id, started_at, ended_at, outcome) VALUES (?, ?, ?, ?, ?, ?)');
      job.run(1, 1, 'x', 2, 2, 'w2', 90_000, null, null); // running its second attempt
      attempt.run(1, 1, 'w1', 5, 30_005, 'lease expired');
      attempt.run(1, 2, 'w2', 31_000, null, null);
      job.run(2, 2, null, 1, 1, null, null, R('a'), 50); // completed
      attempt.run(2, 1, 'w1', 6, 50, 'completed');
      db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', 2)").run();
    })();
    db.close();
    store = JobStore.open(old, 3);
    const story = (seq: number) => store.get(makeJobId(seq, 3))?.history?.map((a) => [a.attempt, a.workerId, a.startedAt, a.endedAt, a.outcome]);
    const at = (t: number) => new Date(t).toISOString();
    assert.deepEqual(story(1), [
      [1, 'w1', at(5), at(30_005), 'lease expired'],
      [2, 'w2', at(31_000), null, 'running'],
    ]);
    assert.deepEqual(story(2), [[1, 'w1', at(6), at(50), 'completed']]);
    // The running attempt goes on from its job's row: completed by its worker, told once.
    assert.deepEqual(store.complete('w2', [{ id: makeJobId(1, 3), result: R('b') }], 60_000).accepted, [makeJobId(1, 3)]);
    assert.deepEqual(story(1), [
      [1, 'w1', at(5), at(30_005), 'lease expired'],
      [2, 'w2', at(31_000), at(60_000), 'completed'],
    ]);
  });

  test('a batch enqueue is all or nothing', () => {
    assert.throws(() =>
      store.enqueue(
        [
          { data: 'ok', iterations: 1 },
          { data: 'bad', iterations: null as unknown as number },
        ],
        0,
      ),
    );
    assert.deepEqual(store.counts().queued, 0);
    assert.equal(store.lease('w', 10, Infinity, 1000, 0).length, 0);
  });
});
