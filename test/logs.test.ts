import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { parseLine, parseSince } from '../src/cluster/logs.js';
import { LogRing } from '../src/runtime/log-ring.js';
import { spawn } from 'node:child_process';
import { CLI, dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';
import { jobSet, TestCluster } from './process-cluster.js';

describe('logs', () => {
  test('a log ring keeps the last lines, numbered, and bounds each line', () => {
    const r = new LogRing(3);
    for (const l of ['a\n', 'b', 'c', 'd']) r.push(l);
    assert.deepEqual(r.since(), { lines: ['b', 'c', 'd'], next: 4 });
    assert.deepEqual(r.since(3), { lines: ['d'], next: 4 });
    r.push('x'.repeat(LogRing.MAX_LINE + 10));
    assert.equal(r.since(4).lines[0]!.length, LogRing.MAX_LINE);
  });

  test('--since and line parsing', () => {
    const now = Date.parse('2026-11-30T12:00:00Z');
    assert.equal(parseSince('10m', now), now - 600_000);
    assert.equal(parseSince('2026-11-30T11:00:00Z', now), now - 3_600_000);
    for (const bad of ['10', 'ten minutes', '5y', '']) assert.equal(parseSince(bad, now), null, bad);
    const rec = parseLine('{"time":"2026-11-30T12:00:01.000Z","level":"info","role":"worker","workerId":"w-1","msg":"job done","jobId":17001}', { time: 0, source: '?', role: 'unknown' });
    assert.deepEqual([rec.source, rec.role, rec.msg, rec.fields], ['w-1', 'worker', 'job done', { jobId: 17001 }]);
    const trace = parseLine('    at foo (bar.js:1:1)', { time: 5, source: 'manager-1', role: 'manager' });
    assert.deepEqual([trace.time, trace.source, trace.level], [5, 'manager-1', 'text']);
  });

  describe('a local cluster: dynwork logs reads every process, and keeps them after teardown', () => {
    let tmp: ReturnType<typeof tempDir>;
    const pids = new Set<number>();
    const cli = (...args: string[]) => dynwork(tmp.dir, [...args, '--cluster', 'logs']);
    before(async () => {
      tmp = tempDir();
      const d = await cli('deploy', '--port', String((await freePorts(1))[0]), '--scale-up-after', '0.2', '--max-workers', '1', '--json');
      assert.equal(d.code, 0, d.stderr);
    });
    after(async () => {
      await cli('teardown', '--purge');
      const left = [...pids].filter(isAlive);
      killAll(left);
      tmp.cleanup();
      assert.deepEqual(left, [], 'processes left running');
    });

    test('one time-ordered stream, filtered by job and role; raw with --json; kept after teardown unless --purge', async () => {
      const id = Number((await cli('enqueue', '--iterations', '5', 'logged')).stdout.trim());
      await waitFor('the job to complete', async () => /completed/.test((await cli('job', String(id))).stdout), 60_000, 200);
      const s = JSON.parse((await cli('status', '--json')).stdout) as { managers: { pid: number | null }[]; workers: { id: string; pid: number | null }[] };
      for (const p of [...s.managers, ...s.workers]) if (p.pid) pids.add(p.pid);

      const job = await cli('logs', '--job', String(id));
      assert.equal(job.code, 0, job.stderr);
      const lines = job.stdout.trim().split('\n');
      assert.ok(lines.length >= 1, job.stdout);
      for (const l of lines) assert.match(l, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  \\S+ +[A-Z]+ +.*(jobId=${id}|jobIds=\\[[^\\]]*\\b${id}\\b)`), l);
      const times = lines.map((l) => l.slice(0, 12));
      assert.deepEqual(times, [...times].sort(), 'time-ordered');

      const workers = await cli('logs', '--role', 'worker', '--json');
      const recs = workers.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { role: string; workerId: string });
      assert.ok(recs.length > 0 && recs.every((r) => r.role === 'worker'), workers.stdout.slice(0, 500));
      assert.ok(
        recs.some((r) => s.workers.some((w) => w.id === r.workerId)),
        'the worker ids are the ones dynwork status shows',
      );

      // --follow prints what is new as it is written, and stops when interrupted.
      const follow = spawn(process.execPath, [CLI, 'logs', '--cluster', 'logs', '--follow', '--since', '1s'], { env: { ...process.env, DYNWORK_HOME: tmp.dir }, stdio: ['ignore', 'pipe', 'pipe'] });
      let followed = '';
      follow.stdout.on('data', (d: Buffer) => (followed += d.toString()));
      try {
        const later = Number((await cli('enqueue', '--iterations', '5', 'followed')).stdout.trim());
        await waitFor('the new job in the followed stream', () => new RegExp(`completed .*jobIds=\\[[^\\]]*\\b${later}\\b`).test(followed), 60_000, 100);
      } finally {
        follow.kill('SIGINT');
      }
      const [, signal] = await new Promise<[number | null, string | null]>((r) => follow.on('close', (code, sig) => r([code, sig])));
      assert.equal(signal, 'SIGINT', 'it ran until interrupted');

      const t = await cli('teardown');
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /logs kept in .*logs \(dynwork logs --cluster logs reads them; teardown --purge removes them\)/);
      const afterwards = await cli('logs', '--role', 'manager');
      assert.equal(afterwards.code, 0, afterwards.stderr);
      assert.match(afterwards.stdout, /manager-1 +INFO +manager listening/);
      const purge = await cli('teardown', '--purge');
      assert.equal(purge.code, 0, purge.stderr);
      assert.equal(existsSync(join(tmp.dir, 'clusters', 'logs')), false);
      const none = await cli('logs');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^dynwork: no logs for cluster "logs"/);
    });
  });

  describe('over the API (how aws clusters are read): workers send theirs to a manager', () => {
    const cluster = new TestCluster({ worker: { logLevel: 'info' } });
    before(() => cluster.start());
    after(() => cluster.stop());

    test("GET /logs on one manager has its own lines, its peer's and the workers' that sent theirs", async () => {
      const { jobs, results } = jobSet('shipped', 3, 10);
      const ids = await cluster.enqueue(2, jobs, results);
      await cluster.launch('worker');
      await cluster.pullAll(60_000);
      const c = cluster.clients[0]!;
      const lines = await waitFor(
        'worker lines at the managers',
        async () => {
          const all = (await c.logs()).map((l) => JSON.parse(l) as { role?: string; manager?: number; workerId?: string; jobId?: number; jobIds?: number[] });
          return all.some((r) => r.role === 'worker') ? all : null;
        },
        30_000,
        500,
      );
      assert.ok(
        lines.some((r) => r.role === 'manager' && r.manager === 1),
        'its own',
      );
      assert.ok(
        lines.some((r) => r.role === 'manager' && r.manager === 2),
        "its peer's",
      );
      const worker = lines.filter((r) => r.role === 'worker');
      assert.ok(worker.every((r) => typeof r.workerId === 'string' && r.workerId.startsWith('worker-')));
      // A worker token does not read logs.
      const w = new ManagerClient({ endpoint: c.url, token: WORKER_TOKEN, timeoutMs: 5_000 });
      try {
        await assert.rejects(w.logs(), (e: unknown) => (e as { status?: number }).status === 403);
      } finally {
        await w.close();
      }
      assert.equal(ids.length, 3);
    });
  });
});
