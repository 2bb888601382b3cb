import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { iteratedSha512 } from '../src/job/hash.js';
import { CLI, dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';
import { jobSet, TestCluster } from './process-cluster.js';

/**
 * A result leaves the queue only once its reader has it: a reader that hangs
 * up (closed pipe, Ctrl-C) or a peer that answers after the asker gave up
 * loses nothing.
 */
describe('results are never lost between the queue and their reader', () => {
  describe('the CLI', () => {
    let tmp: ReturnType<typeof tempDir>;
    const pids = new Set<number>();
    const want = new Map<number, string>();

    before(async () => {
      tmp = tempDir();
      const d = await dynwork(tmp.dir, ['deploy', '--cluster', 'deliver', '--port', String((await freePorts(1))[0]), '--scale-up-after', '0.2', '--max-workers', '1', '--json']);
      assert.equal(d.code, 0, d.stderr);
    });
    afterEach(async () => {
      // Every test leaves the queue drained: what it did not pull itself is a loss.
      const s = JSON.parse((await dynwork(tmp.dir, ['status', '--cluster', 'deliver', '--json'])).stdout) as { managers: { pid: number | null }[]; workers: { pid: number | null }[] };
      for (const p of [...s.managers, ...s.workers]) if (p.pid) pids.add(p.pid);
    });
    after(async () => {
      await dynwork(tmp.dir, ['teardown', '--cluster', 'deliver']);
      const left = [...pids].filter(isAlive);
      killAll(left);
      tmp.cleanup();
      assert.deepEqual(left, [], 'processes left running after teardown');
    });

    /** Enqueues `n` one-iteration jobs and waits until all are completed (none pulled). */
    async function completed(prefix: string, n: number): Promise<void> {
      want.clear();
      const lines = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
      const r = await dynwork(tmp.dir, ['enqueue', '--cluster', 'deliver', '--iterations', '1', '--file', '-'], { input: lines.join('\n') + '\n', timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      r.stdout
        .trim()
        .split('\n')
        .map(Number)
        .forEach((id, i) => want.set(id, iteratedSha512(lines[i]!, 1)));
      await waitFor(`${n} jobs completed`, async () => (await queue()).completed === n, 120_000, 200);
    }

    async function queue(): Promise<{ completed: number; queued: number; running: number }> {
      const r = await dynwork(tmp.dir, ['status', '--cluster', 'deliver', '--json']);
      const s = JSON.parse(r.stdout) as { managers: { queued: number | null; running: number | null; completed: number | null }[] };
      const sum = (k: 'queued' | 'running' | 'completed') => s.managers.reduce((a, m) => a + (m[k] ?? 0), 0);
      return { completed: sum('completed'), queued: sum('queued'), running: sum('running') };
    }

    /** Pulls until every wanted result came back, checking each. */
    async function pullEverything(): Promise<Map<number, string>> {
      const got = new Map<number, string>();
      await waitFor(
        `all ${want.size} results back`,
        async () => {
          const p = await dynwork(tmp.dir, ['pull', '--cluster', 'deliver', '--top', '5000', '--json']);
          assert.equal(p.code, 0, p.stderr);
          for (const j of JSON.parse(p.stdout) as { id: number; result: string }[]) {
            assert.ok(!got.has(j.id), `job ${j.id} delivered twice`);
            got.set(j.id, j.result);
          }
          return got.size >= want.size;
        },
        20_000,
        200,
      );
      return got;
    }

    test('a closed pipe (pull | head -1) gives back every result it did not write', async () => {
      await completed('pipe', 3000);
      const shown = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
        const sh = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" pull --cluster deliver --top 3000 | head -1`], {
          env: { ...process.env, DYNWORK_HOME: tmp.dir, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
        sh.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const timer = setTimeout(() => sh.kill('SIGKILL'), 60_000);
        sh.on('error', reject);
        sh.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, out, err });
        });
      });
      const [id, result] = shown.out.trim().split(' ');
      assert.equal(want.get(Number(id)), result, `head printed a real result: ${shown.out} ${shown.err}`);
      assert.match(shown.err, /output closed .*given back to the queue/);
      // All of them are back at once (the one head printed too: delivery is at least once).
      const got = await pullEverything();
      assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()));
    });

    test('Ctrl-C during pull --wait --json > file leaves nothing taken', async () => {
      await completed('sigint', 500);
      const out = join(tmp.dir, 'pulled.json');
      const fd = openSync(out, 'w');
      const child = spawn(process.execPath, [CLI, 'pull', '--cluster', 'deliver', '--top', '501', '--wait', '--timeout', '60', '--json'], {
        env: { ...process.env, DYNWORK_HOME: tmp.dir, NO_COLOR: '1' },
        stdio: ['ignore', fd, 'pipe'],
      });
      closeSync(fd);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        // It holds all 500 and waits for the 501st.
        await waitFor('the pull to take all 500', async () => (await queue()).completed === 0, 30_000, 100);
        child.kill('SIGINT');
        assert.equal(await exited, 130, err);
      } finally {
        if (child.pid && isAlive(child.pid)) child.kill('SIGKILL');
      }
      assert.equal(readFileSync(out, 'utf8'), '', 'nothing was written');
      assert.match(err, /interrupted by SIGINT; 500 result\(s\) not written out were given back/);
      const got = await pullEverything();
      assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()));
    });
  });

  describe('peer fill', () => {
    const cluster = new TestCluster({ manager: { deliveryLeaseMs: 3_000 } });
    let worker2: ManagerClient;
    before(async () => {
      await cluster.start();
      worker2 = new ManagerClient({ endpoint: cluster.clients[1]!.url, token: WORKER_TOKEN, timeoutMs: 5_000 });
    });
    after(async () => {
      await worker2.close();
      await cluster.stop();
    });

    test("a peer stalled (SIGSTOP) past the asker's timeout keeps no result it took", async () => {
      const { jobs, results } = jobSet('stall', 200, 2);
      const ids = await cluster.enqueue(2, jobs, results);
      const lease = await worker2.lease({ workerId: 'w', max: 200, waitMs: 0 });
      assert.equal(lease.jobs.length, 200);
      const done = await worker2.complete({ workerId: 'w', results: lease.jobs.map((j) => ({ id: j.id, result: results.get(`${j.data}/${j.iterations}`)! })) });
      assert.equal(done.accepted.length, 200);

      const m2 = (await cluster.provider.list({ cluster: cluster.cluster, role: 'manager' })).find((i) => i.index === 2)!;
      process.kill(m2.pid!, 'SIGSTOP');
      try {
        // Manager 1 asks its stalled peer, gives up after the peer timeout and answers without it.
        assert.deepEqual(await cluster.clients[0]!.pullCompleted(200), []);
      } finally {
        process.kill(m2.pid!, 'SIGCONT');
      }
      // The peer now answers a question nobody waits for: those results must come back.
      await cluster.pullAll(30_000);
      const s = cluster.summary('peer stall', 1);
      assert.deepEqual([s.lost, s.duplicated, s.wrong], [0, 0, 0], s.line);
      assert.equal(cluster.got.size, ids.length);
    });
  });
});
