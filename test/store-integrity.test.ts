import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { seqOf } from '../src/protocol/index.js';
import { freshQueueFile, idMarkFile, writeIdMark } from '../src/runtime/store/id-mark.js';
import { ID_BLOCK, JobStore } from '../src/runtime/store/job-store.js';
import { tempDir } from './helpers.js';

const R = 'a'.repeat(128);
const removeQueue = (file: string) => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
};

describe('JobStore: a queue file that is lost, replaced or written by someone else', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let store: JobStore | undefined;
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'queue.db');
  });
  afterEach(() => {
    store?.close();
    store = undefined;
    tmp.cleanup();
  });

  test('with the file deleted, every write path fails and none reports success', () => {
    store = JobStore.open(file, 2);
    const [a, b, c] = store.enqueue(
      [
        { data: 'a', iterations: 1 },
        { data: 'b', iterations: 1 },
        { data: 'c', iterations: 1 },
      ],
      0,
    );
    store.lease('w', 2, Infinity, 60_000, 0);
    store.complete('w', [{ id: a!, result: R }], 1);
    removeQueue(file);
    const unavailable = /queue database .* is unavailable/;
    assert.throws(() => store!.enqueue([{ data: 'd', iterations: 1 }], 2), unavailable);
    assert.throws(() => store!.lease('w2', 1, Infinity, 60_000, 2), unavailable);
    assert.throws(() => store!.complete('w', [{ id: b!, result: R }], 2), unavailable);
    assert.throws(() => store!.extend('w', [b!], 60_000, 2), unavailable);
    assert.throws(() => store!.expireLeases(5, 120_000), unavailable);
    assert.throws(() => store!.reserve(10, 'r', 1000, 2), unavailable);
    assert.throws(() => store!.ack('r', 2), unavailable);
    assert.throws(() => store!.release('r'), unavailable);
    assert.throws(() => store!.expireReceipts(3), unavailable);
    assert.throws(() => store!.cancel(c!, 2), unavailable);
    assert.throws(() => store!.retry(c!), unavailable);
    assert.throws(() => store!.retryFailed(), unavailable);
    assert.throws(() => store!.purge(10), unavailable);
    assert.throws(() => store!.check(), unavailable);
    assert.ok(c);
  });

  test('the id mark is kept beside the queue; a lost queue is refused, and a fresh one continues past the old ids', () => {
    store = JobStore.open(file, 2);
    const ids = store.enqueue(
      [
        { data: 'a', iterations: 1 },
        { data: 'b', iterations: 1 },
      ],
      0,
    );
    const mark = JSON.parse(readFileSync(idMarkFile(file), 'utf8')) as { issuedSeqUpTo: number };
    assert.ok(mark.issuedSeqUpTo >= seqOf(ids[1]!) && mark.issuedSeqUpTo <= ID_BLOCK, `mark ${mark.issuedSeqUpTo}`);
    store.close();
    store = undefined;
    removeQueue(file);
    assert.throws(
      () => JobStore.open(file, 2),
      (err: Error) => {
        assert.match(err.message, new RegExp(`queue database ${file} is missing but this manager had issued job ids up to 2002; restore it, or start a fresh queue`));
        assert.ok(err.message.includes(freshQueueFile(file)));
        return true;
      },
    );
    writeFileSync(freshQueueFile(file), '');
    store = JobStore.open(file, 2);
    const next = store.enqueue([{ data: 'c', iterations: 1 }], 1);
    assert.ok(next[0]! > ids[1]!, `new id ${next[0]} must pass ${ids[1]}`);
    assert.throws(() => readFileSync(freshQueueFile(file)), /ENOENT/, 'the start-fresh file is used once');
  });

  test('ids continue past the mark, so a queue restored from an older copy issues no id twice', () => {
    store = JobStore.open(file, 2);
    store.enqueue([{ data: 'a', iterations: 1 }], 0);
    store.close();
    // As if a crashed run had reserved (and maybe issued) ids up to seq 50.
    writeIdMark(idMarkFile(file), 50);
    store = JobStore.open(file, 2);
    assert.equal(seqOf(store.enqueue([{ data: 'b', iterations: 1 }], 1)[0]!), 51);
  });

  test('a file written by another process while open: no more writes, and check() fails', () => {
    store = JobStore.open(file, 2);
    store.enqueue([{ data: 'a', iterations: 1 }], 0);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(100, 0x41), 0, 100, 0);
    closeSync(fd);
    assert.throws(() => store!.check(), /another process wrote into it/);
    assert.throws(() => store!.enqueue([{ data: 'b', iterations: 1 }], 1), /another process wrote into it/);
    assert.throws(() => store!.lease('w', 1, Infinity, 1000, 1), /another process wrote into it/);
  });

  test('a corrupted file is refused at open with a clear error', () => {
    store = JobStore.open(file, 2);
    store.enqueue([{ data: 'a', iterations: 1 }], 0);
    store.close();
    store = undefined;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    closeSync(fd);
    assert.throws(() => JobStore.open(file, 2), /queue database .* is corrupt \(.*\); refusing to start on it/);
  });
});
