import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { WalSync, type Disk } from '../src/runtime/store/wal-sync.js';
import { tempDir } from './helpers.js';

describe('WalSync', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  /** A disk on a fake clock: each sync takes `cost` ms, inline or on the pool (answered a turn later). */
  let disk: Disk & { cost: number; kinds: string[]; fail: Error | null };
  beforeEach(() => {
    tmp = tempDir();
    file = join(tmp.dir, 'queue.db-wal');
    writeFileSync(file, '');
    let t = 0;
    disk = {
      cost: 0.2,
      kinds: [],
      fail: null,
      slowMs: 1,
      now: () => t,
      syncNow: () => {
        disk.kinds.push('inline');
        t += disk.cost;
        if (disk.fail) throw disk.fail;
      },
      sync: (_fd, done) => {
        disk.kinds.push('pool');
        t += disk.cost;
        setImmediate(() => done(disk.fail));
      },
    };
  });
  afterEach(() => tmp.cleanup());

  test('syncs on the event loop while the disk is fast, off it once syncs are slow on average, and back when they are fast again', async () => {
    const wal = new WalSync(file, disk);
    for (let i = 0; i < 5; i++) await wal.durable();
    disk.cost = 5;
    await wal.durable();
    await wal.durable();
    disk.cost = 0.2;
    for (let i = 0; i < 5; i++) await wal.durable();
    // Averages (a quarter of each new sync): 0.15 after the fast five, 1.36 after the first slow one, 2.27, then 1.75, 1.37, 1.08, 0.86.
    assert.deepEqual(disk.kinds, ['inline', 'inline', 'inline', 'inline', 'inline', 'inline', 'pool', 'pool', 'pool', 'pool', 'pool', 'inline']);
    wal.close();
  });

  test('a failed sync is final: the ask fails with the disk error, and so does every later one without touching the disk', async () => {
    const wal = new WalSync(file, disk);
    disk.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    await assert.rejects(wal.durable(), /EIO/);
    disk.fail = null;
    await assert.rejects(wal.durable(), /EIO/);
    await assert.rejects(wal.settled(), /EIO/);
    assert.deepEqual(disk.kinds, ['inline']);
    assert.equal(wal.failed?.message, 'EIO: i/o error, fdatasync');
    wal.close();
  });

  test('closing answers the asks still waiting (the database checkpoints as it closes), and refuses later ones', async () => {
    const wal = new WalSync(file, { ...disk, slowMs: -1, sync: () => undefined });
    const waiting = [wal.durable(), wal.settled()];
    wal.close();
    await Promise.all(waiting);
    await assert.rejects(wal.durable(), /closed/);
  });
});
