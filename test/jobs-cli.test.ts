import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JobView } from '../src/protocol/index.js';
import { dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

describe('dynwork job, jobs, cancel and retry', () => {
  let tmp: ReturnType<typeof tempDir>;
  const pids = new Set<number>();
  const cli = (...args: string[]) => dynwork(tmp.dir, [...args, '--cluster', 'story']);
  const status = async () => {
    const s = JSON.parse((await cli('status', '--json')).stdout) as { managers: { pid: number | null }[]; workers: { id: string; pid: number | null }[] };
    for (const p of [...s.managers, ...s.workers]) if (p.pid) pids.add(p.pid);
    return s;
  };

  before(async () => {
    tmp = tempDir();
    const d = await dynwork(tmp.dir, ['deploy', '--cluster', 'story', '--port', String((await freePorts(1))[0]), '--scale-up-after', '0.2', '--max-workers', '1', '--json']);
    assert.equal(d.code, 0, d.stderr);
  });
  after(async () => {
    await status();
    await cli('teardown');
    const left = [...pids].filter(isAlive);
    killAll(left);
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running after teardown');
  });

  test('a finished job names the worker that ran it, as dynwork status does', async () => {
    const id = Number((await cli('enqueue', '--iterations', '3', 'hello')).stdout.trim());
    const job = await waitFor(
      'the job to complete',
      async () => {
        const r = await cli('job', String(id), '--json');
        assert.equal(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout) as JobView;
        return j.status === 'completed' ? j : null;
      },
      60_000,
      200,
    );
    const worker = job.history?.at(-1)?.workerId;
    assert.ok(
      (await status()).workers.some((w) => w.id === worker),
      `worker ${worker} is in dynwork status`,
    );
    const text = await cli('job', String(id));
    assert.match(text.stdout, new RegExp(`^job ${id}: completed \\(manager \\d\\)`));
    assert.match(text.stdout, new RegExp(`1  worker ${worker}  \\S+ → \\S+  completed`));
    await cli('pull', '--top', '1');
  });

  test('cancel, list, retry; bad ids and finished jobs get one clear line and a non-zero exit', async () => {
    // Heavy enough (seconds each) that none finishes before it is cancelled.
    const ids = (await cli('enqueue', '--iterations', '10000000', 'a', 'b', 'c')).stdout.trim().split('\n');
    const cancel = await cli('cancel', ...ids);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, ids.map((id) => `${id} cancelled\n`).join(''));
    const listed = await cli('jobs', '--state', 'cancelled');
    assert.match(listed.stdout, /^ID\s+STATUS\s+ITERATIONS\s+ATTEMPTS\s+ENQUEUED\s+DETAIL$/m);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ids,
    );
    const retry = await cli('retry', ids[2]!, '--json');
    assert.equal((JSON.parse(retry.stdout) as JobView[])[0]?.status, 'queued');
    // The worker hears of a cancel at its next heartbeat: until then it may still hold the
    // job's chain, lease the retried job again, carry the chain on and finish it. Either way it ends.
    const ended = (r: { code: number | null; stderr: string }) => r.code === 0 || /: it is completed$/m.test(r.stderr);
    const cancelled = await cli('cancel', ids[2]!);
    assert.ok(ended(cancelled), cancelled.stderr);

    const unknown = await cli('job', '99007');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^dynwork: no job 99007: its manager \(7\) is not part of this cluster$/m);
    const twice = await cli('retry', ids[0]!);
    assert.equal(twice.code, 0, 'a cancelled job can be retried');
    const again = await cli('retry', ids[0]!);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`^dynwork: cannot retry job ${ids[0]}: it is (queued|running|completed)$`, 'm'));
    const last = await cli('cancel', ids[0]!);
    assert.ok(ended(last), last.stderr);
    const bad = await cli('cancel', 'x1');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a job id: "x1"/);
  });
});
