import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { after, afterEach, before, describe, test } from 'node:test';
import { dynwork, isAlive, killAll } from './cli.js';
import { expected } from './process-cluster.js';
import { freePorts, tempDir, vectors, waitFor } from './helpers.js';

interface StatusJson {
  managers: { index: number; url: string; pid: number | null; up: boolean; leader: boolean; queued: number | null }[];
  workers: { id: string; pid: number | null; state: string }[];
}

describe('dynwork CLI, end to end on 127.0.0.1', () => {
  let tmp: ReturnType<typeof tempDir>;
  const seen = new Set<number>();
  const cli = (args: string[], opts?: { input?: string; timeoutMs?: number }) => dynwork(tmp.dir, args, opts);
  const port = async () => String((await freePorts(1))[0]);
  const status = async (cluster: string): Promise<StatusJson> => {
    const r = await cli(['status', '--json', '--cluster', cluster]);
    const s = JSON.parse(r.stdout) as StatusJson;
    for (const p of [...s.managers, ...s.workers]) if (p.pid) seen.add(p.pid);
    return s;
  };

  before(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const cluster of ['e2e', 'converge', 'leader', 'keep', 'moved', 'first', 'second']) await cli(['teardown', '--cluster', cluster]);
    const left = [...seen].filter(isAlive);
    killAll(left);
    assert.deepEqual(left, [], 'processes left running after teardown');
  });
  after(() => tmp.cleanup());

  test('deploy → enqueue 300 → scale 0 → more than 1 → pull all, correct → idle back to 0 → teardown leaves nothing', async () => {
    const d = await cli(['deploy', '--cluster', 'e2e', '--port', await port(), '--scale-up-after', '1', '--idle-timeout', '3', '--max-workers', '3', '--json']);
    assert.equal(d.code, 0, d.stderr);
    let s = await status('e2e');
    assert.equal(s.managers.length, 2);
    assert.ok(s.managers.every((m) => m.up));
    assert.equal(s.workers.length, 0);

    // The vectors first, one call each; then the heavy batch that makes the backlog.
    const want = new Map<number, string>();
    const jobs = vectors().filter((v) => v.iterations <= 1000);
    for (const v of jobs) {
      const r = await cli(['enqueue', '--cluster', 'e2e', '--iterations', String(v.iterations), '--', v.data]);
      assert.equal(r.code, 0, r.stderr);
      want.set(Number(r.stdout.trim()), v.result);
    }
    // Ten distinct inputs, so checking every result independently stays cheap; heavy enough
    // (145 M steps) that one worker with every SIMD lane full still leaves a backlog.
    const input = Array.from({ length: 300 - jobs.length }, (_, i) => `job-${i % 10}`);
    const expect10 = new Map(Array.from({ length: 10 }, (_, i) => [`job-${i}`, expected(`job-${i}`, 500_000)]));
    const heavy = await cli(['enqueue', '--cluster', 'e2e', '--iterations', '500000', '--file', '-'], { input: input.join('\n') + '\n' });
    assert.equal(heavy.code, 0, heavy.stderr);
    const ids = heavy.stdout.trim().split('\n').map(Number);
    assert.equal(ids.length, input.length);
    ids.forEach((id, i) => want.set(id, expect10.get(input[i]!)!));
    assert.equal(want.size, 300);

    let maxWorkers = 0;
    const got = new Map<number, string>();
    await waitFor(
      'all 300 results',
      async () => {
        s = await status('e2e');
        maxWorkers = Math.max(maxWorkers, s.workers.filter((w) => w.state === 'running').length);
        const p = await cli(['pull', '--cluster', 'e2e', '--top', '100', '--json']);
        assert.equal(p.code, 0, p.stderr);
        for (const j of JSON.parse(p.stdout) as { id: number; result: string }[]) {
          assert.ok(!got.has(j.id), `job ${j.id} delivered twice`);
          got.set(j.id, j.result);
        }
        return got.size >= 300;
      },
      120_000,
      250,
    );
    assert.ok(maxWorkers > 1, `workers scaled to ${maxWorkers}, expected more than 1`);
    assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()));

    await waitFor('workers to stop after the idle timeout', async () => (await status('e2e')).workers.length === 0, 60_000, 250);
    const pids = [...seen];
    const t = await cli(['teardown', '--cluster', 'e2e']);
    assert.equal(t.code, 0, t.stderr);
    assert.deepEqual(pids.filter(isAlive), []);
    const again = await cli(['teardown', '--cluster', 'e2e']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stdout,
      'cluster "e2e": nothing found on this machine (no local process, no cluster state)\n' +
        'if it runs on AWS: dynwork teardown --provider aws --region REGION --cluster e2e finds everything by its tag dynwork:cluster=e2e\n',
    );
  });

  test('deploy is idempotent, and a re-run brings a killed manager back on its data', async () => {
    const first = await cli(['deploy', '--cluster', 'converge', '--port', await port(), '--max-workers', '0', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const before = await status('converge');
    const second = await cli(['deploy', '--cluster', 'converge', '--json']);
    assert.equal(second.code, 0, second.stderr);
    const r2 = JSON.parse(second.stdout) as { changed: boolean; managers: { action: string }[] };
    assert.equal(r2.changed, false);
    assert.deepEqual(
      r2.managers.map((m) => m.action),
      ['unchanged', 'unchanged'],
    );
    assert.deepEqual(
      (await status('converge')).managers.map((m) => m.pid),
      before.managers.map((m) => m.pid),
    );

    // With no workers allowed, jobs stay queued wherever they land.
    const e = await cli(['enqueue', '--cluster', 'converge', '--iterations', '5', 'a', 'b', 'c']);
    assert.equal(e.code, 0, e.stderr);
    const queued = await status('converge');
    const victim = queued.managers.find((m) => (m.queued ?? 0) > 0)!;
    process.kill(victim.pid!, 'SIGKILL');
    await waitFor('the killed manager to be seen down', async () => !(await status('converge')).managers.find((m) => m.index === victim.index)!.up);

    const third = await cli(['deploy', '--cluster', 'converge', '--json']);
    assert.equal(third.code, 0, third.stderr);
    const r3 = JSON.parse(third.stdout) as { managers: { index: number; action: string }[] };
    assert.equal(r3.managers.find((m) => m.index === victim.index)!.action, 'replaced');
    const after = await status('converge');
    const back = after.managers.find((m) => m.index === victim.index)!;
    assert.ok(back.up);
    assert.notEqual(back.pid, victim.pid);
    assert.equal(back.queued, victim.queued);
  });

  test('with the leader killed, the other manager keeps scaling workers for the backlog', async () => {
    const d = await cli(['deploy', '--cluster', 'leader', '--port', await port(), '--scale-up-after', '1', '--idle-timeout', '2', '--max-workers', '2', '--json']);
    assert.equal(d.code, 0, d.stderr);
    const s = await status('leader');
    const leader = s.managers.find((m) => m.leader) ?? s.managers[0]!;
    process.kill(leader.pid!, 'SIGKILL');
    await waitFor('manager 2 to lead', async () => (await status('leader')).managers.find((m) => m.index !== leader.index)?.leader === true, 30_000);
    const e = await cli(['enqueue', '--cluster', 'leader', '--iterations', '20000', ...Array.from({ length: 50 }, (_, i) => `x${i}`)]);
    assert.equal(e.code, 0, e.stderr);
    await waitFor('a worker started by the surviving manager', async () => (await status('leader')).workers.length > 0, 30_000, 250);
    const p = await cli(['pull', '--cluster', 'leader', '--top', '50', '--wait', '--timeout', '60', '--json']);
    assert.equal(p.code, 0, p.stderr);
    assert.equal((JSON.parse(p.stdout) as unknown[]).length, 50);
    // And it brings the dead manager back on its data.
    const back = await waitFor(
      'the killed manager relaunched by its peer',
      async () => {
        const m = (await status('leader')).managers.find((x) => x.index === leader.index)!;
        return m.up && m.pid !== null && m.pid !== leader.pid && isAlive(m.pid) ? m : null;
      },
      60_000,
      500,
    );
    assert.ok(isAlive(back.pid!));
    const text = await cli(['status', '--cluster', 'leader']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^cluster leader \(local\)  \d+\.\d jobs\/s  \$0\/h\ncost: processes on this machine\n/);
    assert.match(text.stdout, new RegExp(`manager \\d: relaunched manager ${leader.index}: manager ${leader.index} down for`));
    assert.match(text.stdout, /launched \d worker\(s\)/);
  });

  test('teardown while jobs run leaves nothing running; with --keep-data the jobs are there after the next deploy', async () => {
    const keepPort = await port();
    const d = await cli(['deploy', '--cluster', 'keep', '--port', keepPort, '--scale-up-after', '0.5', '--max-workers', '2', '--json']);
    assert.equal(d.code, 0, d.stderr);
    const e = await cli(['enqueue', '--cluster', 'keep', '--iterations', '2000000', ...Array.from({ length: 20 }, (_, i) => `k${i}`)]);
    assert.equal(e.code, 0, e.stderr);
    const ids = e.stdout.trim().split('\n').map(Number);
    await waitFor(
      'workers running jobs',
      async () => {
        const s = await status('keep');
        return s.workers.length > 0 && s.managers.some((m) => (m as { running?: number }).running);
      },
      30_000,
      250,
    );
    const pids = [...seen];
    const t = await cli(['teardown', '--cluster', 'keep', '--keep-data', '--json']);
    assert.equal(t.code, 0, t.stderr);
    assert.deepEqual(pids.filter(isAlive), [], 'nothing left running');
    const again = await cli(['deploy', '--cluster', 'keep', '--port', keepPort, '--max-workers', '0', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const token = (await cli(['token', '--cluster', 'keep'])).stdout.trim();
    // The managers serve HTTPS under the cluster's CA (a new one: teardown removed the old with the state).
    const ca = new Agent({ connect: { ca: readFileSync((await cli(['ca', '--cluster', 'keep'])).stdout.trim(), 'utf8') } });
    const s = await status('keep');
    try {
      for (const id of ids) {
        const m = s.managers.find((x) => x.index === id % 1000)!;
        const res = await request(`${m.url}/jobs/${id}`, { dispatcher: ca, headers: { authorization: `Bearer ${token}` }, headersTimeout: 10_000, bodyTimeout: 10_000 });
        assert.equal(res.statusCode, 200, `job ${id} survived the teardown`);
        assert.match(((await res.body.json()) as { status: string }).status, /^(queued|running|completed)$/);
      }
    } finally {
      await ca.close();
    }
  });

  test('a taken port: the manager binds the next free one and status shows the real one', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const d = await cli(['deploy', '--cluster', 'moved', '--port', String(taken), '--managers', '1', '--max-workers', '0', '--json']);
      assert.equal(d.code, 0, d.stderr);
      const s = await status('moved');
      assert.equal(s.managers[0]!.up, true);
      const url = new URL(s.managers[0]!.url);
      assert.equal(`${url.protocol}//${url.hostname}`, 'https://127.0.0.1');
      assert.ok(Number(url.port) > taken && Number(url.port) <= taken + 100, `${url.port} is not a port after the taken ${taken}`);
      const e = await cli(['enqueue', '--cluster', 'moved', '--iterations', '1', 'x']);
      assert.equal(e.code, 0, e.stderr);
    } finally {
      blocker.close();
    }
  });

  test('two clusters asked for the same ports both work: the second moves to free ports and its workers find them', async () => {
    const same = await port();
    const a = await cli(['deploy', '--cluster', 'first', '--port', same, '--max-workers', '0', '--json']);
    assert.equal(a.code, 0, a.stderr);
    // 1.001 s is 1000.9999… ms in floating point: the leader must still get whole milliseconds, or it runs no autoscaler and the pull below waits forever.
    const b = await cli(['deploy', '--cluster', 'second', '--port', same, '--scale-up-after', '1.001', '--max-workers', '1', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const urls = (r: { stdout: string }) => (JSON.parse(r.stdout) as { managers: { url: string }[] }).managers.map((m) => m.url);
    const firstUrls = urls(a);
    assert.ok(
      urls(b).every((u) => !firstUrls.includes(u)),
      `${urls(b).join(' ')} must differ from ${firstUrls.join(' ')}`,
    );
    const e = await cli(['enqueue', '--cluster', 'second', '--iterations', '10', 'Hello', 'Hello']);
    assert.equal(e.code, 0, e.stderr);
    const p = await cli(['pull', '--cluster', 'second', '--top', '2', '--wait', '--timeout', '60']);
    assert.equal(p.code, 0, p.stderr);
    const want = vectors().find((v) => v.data === 'Hello' && v.iterations === 10)!.result;
    assert.deepEqual(
      p.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[1]),
      [want, want],
    );
    await status('first');
    await status('second');
  });

  test('commands on a cluster that is not deployed fail with one line and a hint', async () => {
    for (const args of [['enqueue', '--iterations', '1', 'x'], ['pull', '--top', '1'], ['status'], ['token']]) {
      const r = await cli([...args, '--cluster', 'nope']);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, 'dynwork: cluster "nope" is not deployed\nhint: run: dynwork deploy --cluster nope\n');
    }
  });

  test('bad options fail with a one-line reason and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['enqueue', '--iterations', '0', 'x'], /--iterations must be an integer from 1 to 10000000, got "0"/],
      [['enqueue', '--iterations', 'ten', 'x'], /--iterations must be an integer/],
      [['enqueue', 'x'], /required option '--iterations <n>' not specified/],
      [['pull', '--top', '-1'], /--top must be an integer|unknown option '-1'/],
      [['pull'], /required option '--top <n>' not specified/],
      [['deploy', '--managers', '0'], /--managers must be an integer from 1 to 9/],
      // Values the leader's policy would refuse (then the cluster runs without an autoscaler) are refused here.
      [['deploy', '--scale-up-after', '0.0001'], /^dynwork: --scale-up-after must be a number of seconds from 0\.001 to 86400 \(at most 3 decimals\), got "0\.0001"$/m],
      [['deploy', '--scale-up-after', '2.0005'], /--scale-up-after must be a number of seconds .* got "2\.0005"/],
      [['deploy', '--scale-up-after', '12345678901234567890'], /--scale-up-after must be a number of seconds from 0\.001 to 86400/],
      [['deploy', '--idle-timeout', '0.0001'], /--idle-timeout must be a number of seconds from 0\.001 to 604800/],
      [['deploy', '--provider', 'gcp'], /argument 'gcp' is invalid/],
      [['deploy', '--cluster', 'bad name!'], /cluster name/i],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });
});
