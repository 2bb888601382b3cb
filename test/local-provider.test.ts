import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createLocalProvider } from '../src/providers/local.js';
import { readClusterState, writeClusterState } from '../src/state/cluster-state.js';
import { clusterDir } from '../src/state/paths.js';
import { isAlive, killAll } from './cli.js';
import { tempDir, waitFor } from './helpers.js';

const SLEEPER = fileURLToPath(new URL('./fixtures/sleeper.js', import.meta.url));

describe('local provider', () => {
  let tmp: ReturnType<typeof tempDir>;
  const pids = new Set<number>();
  const provider = (graceMs = 5_000) => createLocalProvider({ root: tmp.dir, entry: SLEEPER, graceMs });

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    const left = [...pids].filter(isAlive);
    killAll(left);
    pids.clear();
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running');
  });

  const launchWorkers = async (n: number, config: Record<string, unknown> = {}) => {
    const started = await provider().launch('worker', { cluster: 'c1', count: n, config });
    for (const i of started) pids.add(i.pid!);
    const runDir = join(clusterDir('c1', tmp.dir), 'run');
    await waitFor('fixtures ready', () => started.every((i) => existsSync(join(runDir, `${i.id}.json.ready`))));
    return started;
  };

  test('a new provider object finds them by PID, even without cluster.json', async () => {
    const started = await launchWorkers(3);
    for (const i of started) assert.ok(isAlive(i.pid!), `pid ${i.pid} alive`);
    const fresh = createLocalProvider({ root: tmp.dir, entry: SLEEPER });
    assert.deepEqual((await fresh.list({ cluster: 'c1', role: 'worker' })).map((i) => i.pid).sort(), started.map((i) => i.pid).sort());
    assert.equal(readClusterState('c1'), null);
    await fresh.terminate(started.map((i) => i.id));
  });

  test('each worker gets its instance id in its private config; the cluster dir is 0700', async () => {
    const [w] = await launchWorkers(1, { cluster: 'c1', token: 'secret' });
    const file = join(clusterDir('c1', tmp.dir), 'run', `${w!.id}.json`);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { instanceId: string }).instanceId, w!.id);
    assert.equal(statSync(clusterDir('c1', tmp.dir)).mode & 0o777, 0o700);
    await provider().terminate([w!.id]);
  });

  test('a process that ignores SIGTERM is SIGKILLed after the grace period', async () => {
    const [w] = await launchWorkers(1, { ignoreTerm: true });
    await provider(300).terminate([w!.id]);
    assert.ok(!isAlive(w!.pid!));
  });

  test('a recorded PID now used by another process is not ours: reported stopped, never signalled', async () => {
    const [w] = await launchWorkers(1);
    const procs = join(clusterDir('c1', tmp.dir), 'procs');
    const recFile = join(procs, `${w!.id}.json`);
    // Point the record at an unrelated live process, as if the PID had been reused.
    const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    pids.add(stranger.pid!);
    const rec = JSON.parse(readFileSync(recFile, 'utf8')) as { pid: number };
    rec.pid = stranger.pid!;
    writeFileSync(recFile, JSON.stringify(rec));
    assert.deepEqual(await provider().list({ cluster: 'c1' }), []);
    await provider().terminate([w!.id]);
    assert.ok(isAlive(stranger.pid!), 'the stranger was not killed');
    stranger.kill('SIGKILL');
    process.kill(w!.pid!, 'SIGKILL');
    await waitFor('both to be gone', () => !isAlive(stranger.pid!) && !isAlive(w!.pid!));
  });

  test('cluster state is written whole with mode 0600, and bad cluster names are refused', () => {
    process.env.DYNWORK_HOME = tmp.dir;
    try {
      writeClusterState({ provider: 'local', name: 'c2', createdAt: 'now', clientToken: 'a', workerToken: 'b', settings: {}, managers: [] });
      const dir = clusterDir('c2');
      assert.deepEqual(readdirSync(dir), ['cluster.json'], 'no temp file left behind');
      assert.equal(statSync(join(dir, 'cluster.json')).mode & 0o777, 0o600);
      assert.equal(readClusterState('c2')?.clientToken, 'a');
      assert.throws(() => clusterDir('bad name!'), /invalid cluster name "bad name!": use letters, digits and '-', at most 40 characters/);
      assert.throws(() => clusterDir('../escape'), /invalid cluster name/);
      rmSync(dir, { recursive: true });
    } finally {
      delete process.env.DYNWORK_HOME;
    }
  });
});
