import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { CLI, dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

interface State {
  clientToken: string;
  workerToken: string;
  managers: { index: number; url: string; dataDir: string; pid: number }[];
}

/** Every manager process of `cluster` that really runs, found in /proc (not in dynwork's own records). */
function managerProcesses(home: string, cluster: string): number[] {
  const marker = join(home, 'clusters', cluster, 'run', 'manager-');
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker) && isAlive(Number(d))) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

describe('one deploy at a time, one manager per queue, a queue that knows it is its own (real processes)', () => {
  let tmp: ReturnType<typeof tempDir>;
  const clusters = new Set<string>();
  const pids = new Set<number>();
  const cli = (args: string[], opts?: { timeoutMs?: number }) => dynwork(tmp.dir, args, opts);
  const state = (cluster: string) => JSON.parse(readFileSync(join(tmp.dir, 'clusters', cluster, 'cluster.json'), 'utf8')) as State;
  const deploy = async (cluster: string, args: string[], opts?: { timeoutMs?: number }) => {
    clusters.add(cluster);
    const r = await cli(['deploy', '--cluster', cluster, ...args], opts);
    for (const p of managerProcesses(tmp.dir, cluster)) pids.add(p);
    return r;
  };
  // Managers serve HTTPS under their cluster's CA: trust the CAs of this test's clusters, nothing else.
  let agent: { cas: string; agent: Agent } | undefined;
  const dispatcher = (): Agent => {
    const cas = [...clusters]
      .map((c) => join(tmp.dir, 'clusters', c, 'ca.pem'))
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f, 'utf8'));
    const key = cas.join('');
    if (agent?.cas !== key) {
      void agent?.agent.close();
      agent = { cas: key, agent: new Agent({ connect: { ca: cas } }) };
    }
    return agent.agent;
  };
  const fetch = (url: string, init: RequestInit = {}) => undiciFetch(url, { ...(init as object), dispatcher: dispatcher() });
  const call = (url: string, path: string, token: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers }, signal: AbortSignal.timeout(10_000) });
  const stopGracefully = async (pid: number) => {
    process.kill(pid, 'SIGTERM');
    await waitFor(`manager ${pid} to stop`, () => !isAlive(pid), 15_000);
  };

  before(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const c of clusters) await cli(['teardown', '--cluster', c]);
    clusters.clear();
    const left = [...pids].filter(isAlive);
    killAll(left);
    pids.clear();
    assert.deepEqual(left, [], 'processes left running after teardown');
  });
  after(() => tmp.cleanup());

  test('deploys started at once: one set of managers, a cluster.json they accept, and the others waited and changed nothing or named the first', async () => {
    // The race is won or lost by process start-up timing: several rounds of three make losing it (without the lock) near certain.
    for (const [round, port] of (await freePorts(3)).entries()) {
      const cluster = `race${round}`;
      const rs = await Promise.all([0, 1, 2].map(() => deploy(cluster, ['--port', String(port), '--json'], { timeoutMs: 120_000 })));
      const ok = rs.filter((r) => r.code === 0);
      assert.ok(ok.length >= 1, `no deploy succeeded: ${rs.map((r) => r.stderr).join(' | ')}`);
      const changed = ok.map((r) => (JSON.parse(r.stdout) as { changed: boolean }).changed);
      assert.equal(changed.filter(Boolean).length, 1, `round ${round}: exactly one deploy starts managers; the others find them and change nothing (${changed.join(', ')})`);
      for (const r of rs.filter((x) => x.code !== 0)) assert.match(r.stderr, new RegExp(`^dynwork: another dynwork deploy \\(pid \\d+\\) is working on cluster "${cluster}"; wait for it`, 'm'));

      const running = managerProcesses(tmp.dir, cluster);
      assert.equal(running.length, 2, `round ${round}: manager processes ${running.join(', ')}`);
      const s = state(cluster);
      assert.deepEqual(
        s.managers.map((m) => m.pid).sort((x, y) => x - y),
        running,
      );
      for (const m of s.managers) {
        const st = await call(m.url, '/status', s.clientToken);
        assert.equal(st.status, 200, `round ${round}: manager ${m.index} must accept the recorded token`);
      }
      const e = await cli(['enqueue', '--cluster', cluster, '--iterations', '1', 'hello']);
      assert.equal(e.code, 0, e.stderr);
      assert.equal(existsSync(join(tmp.dir, 'clusters', cluster, 'deploy.lock')), false, 'the lock goes with its holder');
    }
  });

  test('a deploy killed with SIGKILL while it holds the lock does not block the next one', async () => {
    clusters.add('crashed');
    const lock = join(tmp.dir, 'clusters', 'crashed', 'deploy.lock');
    const port = String((await freePorts(1))[0]);
    const child = spawn(process.execPath, [CLI, 'deploy', '--cluster', 'crashed', '--port', port, '--managers', '1'], {
      env: { ...process.env, DYNWORK_HOME: tmp.dir, NO_COLOR: '1' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor('the first deploy to take the lock', () => existsSync(lock), 20_000, 5);
      child.kill('SIGKILL');
      await exited;
      assert.ok(existsSync(lock), 'the killed deploy left its lock behind');
      const r = await deploy('crashed', ['--port', port, '--managers', '1', '--json'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /Waiting for another/);
      assert.equal(managerProcesses(tmp.dir, 'crashed').length, 1);
    } finally {
      if (child.pid && isAlive(child.pid)) child.kill('SIGKILL');
    }
  });

  test('a second manager process on the same data directory refuses to start and exits non-zero; the first keeps serving', async () => {
    const d = await deploy('twice', ['--port', String((await freePorts(1))[0]), '--managers', '1']);
    assert.equal(d.code, 0, d.stderr);
    const s = state('twice');
    const run = join(tmp.dir, 'clusters', 'twice', 'run');
    const config = join(
      run,
      readdirSync(run).find((f) => f.startsWith('manager-1-'))!,
    );
    const second = await cli(['manager', '--config', config], { timeoutMs: 30_000 });
    assert.equal(second.code, 1, `the second manager must exit 1, got ${second.code}: ${second.stderr}`);
    assert.match(second.stderr, /^dynwork: queue database .*queue\.db is in use by another process \(a second manager on the same data directory\?\); refusing to serve it twice$/m);
    assert.match(second.stderr, /^hint: stop the other manager first/m);
    assert.deepEqual(managerProcesses(tmp.dir, 'twice'), [s.managers[0]!.pid]);
    const health = await fetch(`${s.managers[0]!.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200);
    const e = await cli(['enqueue', '--cluster', 'twice', '--iterations', '1', 'still-here']);
    assert.equal(e.code, 0, e.stderr);
  });

  test('queue.db deleted under a running manager: enqueue, lease, complete, heartbeat and pulls answer 503 and acknowledge nothing; a restart is refused and deploy says why', async () => {
    const d = await deploy('lost', ['--port', String((await freePorts(1))[0]), '--managers', '1', '--max-workers', '0', '--wait', '20']);
    assert.equal(d.code, 0, d.stderr);
    const s = state('lost');
    const m = s.managers[0]!;
    const enq = await call(m.url, '/enqueue', s.clientToken, {
      method: 'PUT',
      body: JSON.stringify([
        { data: 'a', iterations: 1 },
        { data: 'b', iterations: 1 },
      ]),
    });
    assert.equal(enq.status, 200);
    const { ids } = (await enq.json()) as { ids: number[] };
    const lease = await call(m.url, '/internal/lease', s.workerToken, { method: 'POST', body: JSON.stringify({ workerId: 'w1', max: 2 }) });
    assert.equal(((await lease.json()) as { jobs: unknown[] }).jobs.length, 2);
    const done = await call(m.url, '/internal/complete', s.workerToken, { method: 'POST', body: JSON.stringify({ workerId: 'w1', results: [{ id: ids[0], result: 'a'.repeat(128) }] }) });
    assert.deepEqual(await done.json(), { accepted: [ids[0]], rejected: [] });

    for (const f of ['queue.db', 'queue.db-wal', 'queue.db-shm']) rmSync(join(m.dataDir, f), { force: true });

    const calls: [string, string, string, RequestInit][] = [
      ['enqueue', '/enqueue?iterations=1', s.clientToken, { method: 'PUT', body: JSON.stringify({ data: 'c' }) }],
      ['lease', '/internal/lease', s.workerToken, { method: 'POST', body: JSON.stringify({ workerId: 'w2', max: 1 }) }],
      ['complete', '/internal/complete', s.workerToken, { method: 'POST', body: JSON.stringify({ workerId: 'w1', results: [{ id: ids[1], result: 'b'.repeat(128) }] }) }],
      ['heartbeat', '/internal/heartbeat', s.workerToken, { method: 'POST', body: JSON.stringify({ workerId: 'w1', ids: [ids[1]], threads: 1, busy: 1 }) }],
      ['pullCompleted', '/pullCompleted?top=5', s.clientToken, { method: 'POST' }],
      ['receipt pull', '/pullCompleted/lease?top=5&leaseMs=1000', s.clientToken, { method: 'POST' }],
      ['peer pull', '/internal/reserve?top=5&leaseMs=1000', s.workerToken, { method: 'POST' }],
    ];
    for (const [name, path, token, init] of calls) {
      const res = await call(m.url, path, token, init);
      const body = (await res.json()) as { error?: { code: string } };
      assert.equal(res.status, 503, `${name} must answer 503, got ${res.status} ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, 'store_unavailable', name);
    }
    assert.equal((await fetch(`${m.url}/healthz`, { signal: AbortSignal.timeout(5_000) })).status, 503);

    await stopGracefully(m.pid);
    const again = await deploy('lost', ['--wait', '20']);
    assert.equal(again.code, 1, again.stderr);
    const missing = new RegExp(
      `^dynwork: manager 1 stopped before answering: queue database ${join(m.dataDir, 'queue.db')} is missing but this manager had issued job ids up to \\d+; restore it, or start a fresh queue`,
      'm',
    );
    assert.match(again.stderr, missing);
    assert.match(again.stderr, /^hint: restore the file, or: touch .*queue\.start-fresh and start the manager again \(dynwork deploy\); its log: /m);

    // The way out the message names: a fresh queue whose ids continue past the old ones.
    writeFileSync(join(m.dataDir, 'queue.start-fresh'), '');
    const fresh = await deploy('lost', ['--wait', '20']);
    assert.equal(fresh.code, 0, fresh.stderr);
    const e = await cli(['enqueue', '--cluster', 'lost', '--iterations', '1', 'new']);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(Number(e.stdout.trim()) > Math.max(...ids), `new id ${e.stdout.trim()} must pass ${ids.join(', ')}`);
  });

  test("queue.db corrupted: /healthz answers 503 while running, and a restart is refused with the manager's own error shown by deploy", async () => {
    const d = await deploy('rot', ['--port', String((await freePorts(1))[0]), '--managers', '1', '--max-workers', '0', '--wait', '20']);
    assert.equal(d.code, 0, d.stderr);
    const s = state('rot');
    const m = s.managers[0]!;
    const file = join(m.dataDir, 'queue.db');
    const garble = () => {
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
      closeSync(fd);
    };
    assert.equal((await call(m.url, '/enqueue?iterations=1', s.clientToken, { method: 'PUT', body: JSON.stringify({ data: 'a' }) })).status, 200);
    garble();
    const health = await fetch(`${m.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { error: { message: string } }).error.message, /another process wrote into it/);
    assert.equal((await call(m.url, '/enqueue?iterations=1', s.clientToken, { method: 'PUT', body: JSON.stringify({ data: 'b' }) })).status, 503);

    // Its clean stop checkpoints into the file and may rewrite the first page: garble it again.
    await stopGracefully(m.pid);
    garble();
    const again = await deploy('rot', ['--wait', '20']);
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /^dynwork: manager 1 stopped before answering: queue database .*queue\.db is corrupt \(.*\); refusing to start on it$/m);
    assert.match(again.stderr, /^hint: restore it from a backup, or move it aside and touch .*queue\.start-fresh .*; its log: /m);
  });
});
