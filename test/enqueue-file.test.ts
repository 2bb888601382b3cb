/**
 * `dynwork enqueue --file` (review finding 7): all or nothing at any size,
 * errors named by their line in the whole file, bounded memory on an endless
 * line. Real CLI processes against a real local cluster.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dynwork, isAlive, killAll } from './cli.js';
import { expected } from './process-cluster.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

interface StatusJson {
  managers: { index: number; pid: number | null; up: boolean; queued: number | null }[];
  workers: { pid: number | null }[];
}

const LINES = 25_000;
const MiB = 1024 * 1024;

describe('enqueue --file, end to end', () => {
  let tmp: ReturnType<typeof tempDir>;
  const seen = new Set<number>();
  const cli = (args: string[], opts?: { input?: string; timeoutMs?: number }) => dynwork(tmp.dir, args, opts);
  const status = async (): Promise<StatusJson> => {
    const r = await cli(['status', '--json', '--cluster', 'files']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as StatusJson;
    for (const p of [...s.managers, ...s.workers]) if (p.pid) seen.add(p.pid);
    return s;
  };
  const queued = async (): Promise<number> => (await status()).managers.reduce((n, m) => n + (m.queued ?? 0), 0);
  const file = (name: string, lines: string[]): string => {
    const path = join(tmp.dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };
  const enqueueFile = (path: string, json = true) => cli(['enqueue', '--cluster', 'files', '--iterations', '1', ...(json ? ['--json'] : []), '--file', path], { timeoutMs: 120_000 });

  before(async () => {
    tmp = tempDir();
    // No workers until the good file's test lets them run: the queue counts stay exact.
    const d = await cli(['deploy', '--cluster', 'files', '--port', String((await freePorts(1))[0]), '--max-workers', '0', '--json']);
    assert.equal(d.code, 0, d.stderr);
    await status();
  });
  after(async () => {
    await status().catch(() => undefined);
    await cli(['teardown', '--cluster', 'files']);
    const left = [...seen].filter(isAlive);
    killAll(left);
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running after teardown');
  });

  test(`a bad line at 23,456 of ${LINES}: non-zero exit naming that line, and nothing is enqueued`, async () => {
    const lines = Array.from({ length: LINES }, (_, i) => `job-${i + 1}`);
    lines[23_455] = 'x'.repeat(MiB + 1);
    const r = await enqueueFile(file('bad-long.txt', lines));
    assert.notEqual(r.code, 0);
    // --json: the error is the one JSON document on stdout, and no id was printed before it.
    assert.equal(r.stderr, '');
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.match(error.message, /^line 23456 of \S+bad-long\.txt is longer than 1048576 bytes/);
    assert.equal(await queued(), 0);
  });

  test('a line that is not UTF-8 is named, not rewritten, and nothing is enqueued', async () => {
    const path = join(tmp.dir, 'latin1.txt');
    writeFileSync(path, Buffer.concat([Buffer.from('one\ntwo\r\ncaf'), Buffer.from([0xe9]), Buffer.from('\nfour\n')]));
    const r = await enqueueFile(path, false);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^dynwork: line 3 of \S+latin1\.txt is not valid UTF-8 text; nothing was enqueued\n/);
    assert.equal(await queued(), 0);
  });

  test('enqueue --file /dev/zero (one endless line) fails with a clear message', async () => {
    const r = await enqueueFile('/dev/zero', false);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^dynwork: line 1 of \/dev\/zero is longer than 1048576 bytes, the most one job's data may hold; nothing was enqueued\nhint: /);
    assert.equal(await queued(), 0);
  });

  test(`a good file of ${LINES} lines: ${LINES} ids in line order, and every result is right`, async () => {
    const lines = Array.from({ length: LINES }, (_, i) => `line-${i + 1}`);
    const r = await enqueueFile(file('good.txt', lines));
    assert.equal(r.code, 0, r.stderr);
    const { ids } = JSON.parse(r.stdout) as { ids: number[] };
    assert.equal(ids.length, LINES);
    assert.equal(new Set(ids).size, LINES);
    assert.deepEqual(
      [...ids].sort((a, b) => a - b),
      ids,
      'ids in line order',
    );
    assert.equal(await queued(), LINES);

    const d = await cli(['deploy', '--cluster', 'files', '--max-workers', '1', '--scale-up-after', '0.2', '--json']);
    assert.equal(d.code, 0, d.stderr);
    const got = new Map<number, string>();
    await waitFor(
      `all ${LINES} results`,
      async () => {
        await status();
        const p = await cli(['pull', '--cluster', 'files', '--top', '10000', '--json']);
        assert.equal(p.code, 0, p.stderr);
        for (const j of JSON.parse(p.stdout) as { id: number; result: string }[]) got.set(j.id, j.result);
        return got.size >= LINES;
      },
      180_000,
      250,
    );
    ids.forEach((id, i) => assert.equal(got.get(id), expected(lines[i]!, 1), `result of line ${i + 1}`));
  });
});
