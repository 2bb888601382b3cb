/**
 * The CLI half of `npm run test:smoke`, which scripts/node-matrix.sh runs on
 * every supported Node: one local cluster through its whole life, with every
 * process it starts checked to run on the Node that runs the tests (a
 * manager or worker started by a `node` found on PATH, or by the machine's
 * own, would make the other Nodes' runs prove nothing).
 */
import assert from 'node:assert/strict';
import { readlinkSync, realpathSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, vectors } from './helpers.js';

interface StatusJson {
  managers: { pid: number | null; up: boolean }[];
  workers: { pid: number | null; state: string }[];
}

describe(`dynwork on Node ${process.version}`, () => {
  const tmp = tempDir();
  const seen = new Set<number>();
  // The cluster flag goes right after the command: enqueue takes everything after `--` as data.
  const cli = ([command, ...rest]: string[], timeoutMs?: number) => dynwork(tmp.dir, [command!, '--cluster', 'smoke', ...rest], timeoutMs ? { timeoutMs } : {});
  const node = realpathSync(process.execPath);
  const nodeOf = (pid: number) => realpathSync(readlinkSync(`/proc/${pid}/exe`));

  after(async () => {
    await cli(['teardown']);
    killAll([...seen].filter(isAlive));
    tmp.cleanup();
  });

  test('deploy → enqueue → pull → teardown, every process on this Node', async (t) => {
    t.diagnostic(`node ${process.version} at ${node}`);
    const d = await cli(['deploy', '--port', String((await freePorts(1))[0]), '--scale-up-after', '1', '--max-workers', '1', '--json']);
    assert.equal(d.code, 0, d.stderr);

    const jobs = vectors()
      .filter((v) => v.iterations <= 1000)
      .slice(0, 3);
    const want = new Map<number, string>();
    for (const v of jobs) {
      const r = await cli(['enqueue', '--iterations', String(v.iterations), '--', v.data]);
      assert.equal(r.code, 0, r.stderr);
      want.set(Number(r.stdout.trim()), v.result);
    }

    // The worker the backlog started is alive now: it idles for minutes.
    const p = await cli(['pull', '--top', String(want.size), '--wait', '--timeout', '120', '--json'], 150_000);
    assert.equal(p.code, 0, p.stderr);
    const got = JSON.parse(p.stdout) as { id: number; result: string }[];
    assert.deepEqual(new Map(got.map((j) => [j.id, j.result])), want);

    const s = await cli(['status', '--json']);
    assert.equal(s.code, 0, s.stderr);
    const st = JSON.parse(s.stdout) as StatusJson;
    const managers = st.managers.map((m) => m.pid).filter((x): x is number => x !== null);
    const workers = st.workers.map((w) => w.pid).filter((x): x is number => x !== null);
    for (const pid of [...managers, ...workers]) seen.add(pid);
    assert.equal(managers.length, 2, s.stdout);
    assert.ok(workers.length >= 1, `a worker ran the jobs: ${s.stdout}`);
    for (const pid of seen) assert.equal(nodeOf(pid), node, `process ${pid} runs on ${nodeOf(pid)}, not ${node}`);

    const down = await cli(['teardown']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual([...seen].filter(isAlive), [], 'teardown stopped every process');
  });
});
