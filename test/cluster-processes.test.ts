/**
 * Managers and workers as separate processes on 127.0.0.1 (started through the
 * local provider, stopped by PID), driven over real HTTP.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ManagerClient } from '../src/client/manager-client.js';
import { createLocalProvider } from '../src/providers/local.js';
import type { Instance, Provider } from '../src/providers/types.js';
import type { NewJob } from '../src/runtime/protocol.js';
import { isAlive, killAll } from './cli.js';
import { CLIENT_TOKEN, tempDir, WORKER_TOKEN, waitFor } from './helpers.js';

function expected(data: string, iterations: number): string {
  let h = createHash('sha512').update(Buffer.from(data, 'utf8')).digest('hex');
  for (let i = 1; i < iterations; i++) h = createHash('sha512').update(h, 'latin1').digest('hex');
  return h;
}

describe('a cluster of real processes', () => {
  let tmp: ReturnType<typeof tempDir>;
  let provider: Provider;
  let clients: ManagerClient[];
  const pids = new Set<number>();
  const cluster = 'procs';

  const managerConfig = (index: number, port: number) => ({
    cluster,
    index,
    port,
    dataDir: join(tmp.dir, `m${index}`),
    peers: [1, 2]
      .filter((i) => i !== index)
      .map((i) => ({ index: i, url: `http://127.0.0.1:${port - index + i}`, endpointFile: join(tmp.dir, `m${i}`, 'endpoint.json') })),
    clientToken: CLIENT_TOKEN,
    workerToken: WORKER_TOKEN,
    leaseMs: 2_000,
    sweepIntervalMs: 200,
    logLevel: 'warn',
  });
  const workerConfig = (basePort: number) => ({
    cluster,
    managers: [1, 2].map((i) => ({ index: i, url: `http://127.0.0.1:${basePort + i - 1}`, endpointFile: join(tmp.dir, `m${i}`, 'endpoint.json') })),
    workerToken: WORKER_TOKEN,
    threads: 1,
    idleTimeoutMs: 120_000,
    leaseWaitMs: 1_000,
    logLevel: 'warn',
  });
  const launch = async (role: 'manager' | 'worker', config: Record<string, unknown>, index?: number): Promise<Instance> => {
    const [inst] = await provider.launch(role, { cluster, config, ...(index ? { index } : {}) });
    pids.add(inst!.pid!);
    return inst!;
  };
  const startManagers = async (basePort: number): Promise<Instance[]> => {
    const ms = [await launch('manager', managerConfig(1, basePort), 1), await launch('manager', managerConfig(2, basePort + 1), 2)];
    clients = [1, 2].map(
      (i) => new ManagerClient({ endpoint: { index: i, url: `http://127.0.0.1:${basePort + i - 1}`, endpointFile: join(tmp.dir, `m${i}`, 'endpoint.json') }, token: CLIENT_TOKEN, timeoutMs: 5_000 }),
    );
    for (const c of clients) await waitFor('manager up', async () => (await c.healthz()).ok);
    return ms;
  };
  /** Pulls through both managers in turn until `n` results came back; fails on any duplicate. */
  const pullAll = async (n: number, timeoutMs: number): Promise<Map<number, string>> => {
    const got = new Map<number, string>();
    let turn = 0;
    await waitFor(
      `${n} results`,
      async () => {
        const c = clients[turn++ % clients.length]!;
        let batch: { id: number; result: string }[] = [];
        try {
          batch = await c.pullCompleted(500);
        } catch {
          return false; // that manager is down right now; the other one serves
        }
        for (const j of batch) {
          assert.ok(!got.has(j.id), `job ${j.id} delivered twice`);
          got.set(j.id, j.result);
        }
        return got.size >= n;
      },
      timeoutMs,
      100,
    );
    return got;
  };

  beforeEach(() => {
    tmp = tempDir();
    provider = createLocalProvider({ root: tmp.dir, graceMs: 5_000 });
  });
  afterEach(async () => {
    await Promise.all((clients ?? []).map((c) => c.close()));
    await provider.terminate((await provider.list({ cluster })).map((i) => i.id));
    const left = [...pids].filter(isAlive);
    killAll(left);
    pids.clear();
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running');
  });

  test('1,000 mixed jobs on two managers and two workers: all correct, pulled through either manager, none twice', async () => {
    await startManagers(15610);
    await launch('worker', workerConfig(15610));
    await launch('worker', workerConfig(15610));
    const jobs: NewJob[] = Array.from({ length: 1000 }, (_, i) => ({ data: `mixed-${i}`, iterations: 1 + ((i * 7919) % 3000) }));
    const want = new Map<number, string>();
    for (let i = 0; i < jobs.length; i += 100) {
      const chunk = jobs.slice(i, i + 100);
      const ids = await clients[(i / 100) % 2]!.enqueueBatch(chunk);
      ids.forEach((id, k) => want.set(id, expected(chunk[k]!.data, chunk[k]!.iterations)));
    }
    assert.equal(want.size, 1000);
    const got = await pullAll(1000, 120_000);
    assert.equal(got.size, 1000);
    for (const [id, result] of want) assert.equal(got.get(id), result, `job ${id}`);
  });

  test('kill -9 of a worker mid-run: every job still completes, none delivered twice', async () => {
    await startManagers(15620);
    const victim = await launch('worker', workerConfig(15620));
    await launch('worker', workerConfig(15620));
    const data = Array.from({ length: 10 }, (_, i) => `kill-${i}`);
    const results = new Map(data.map((d) => [d, expected(d, 20_000)]));
    const want = new Map<number, string>();
    for (const c of clients) {
      const batch = Array.from({ length: 150 }, (_, i) => ({ data: data[i % 10]!, iterations: 20_000 }));
      (await c.enqueueBatch(batch)).forEach((id, i) => want.set(id, results.get(batch[i]!.data)!));
    }
    await waitFor('the victim to hold leases', async () => (await clients[0]!.status()).queue.running + (await clients[1]!.status()).queue.running > 1);
    process.kill(victim.pid!, 'SIGKILL');
    const got = await pullAll(300, 120_000);
    for (const [id, result] of want) assert.equal(got.get(id), result, `job ${id}`);
    const expiries = (await clients[0]!.status()).totals.leaseExpiries + (await clients[1]!.status()).totals.leaseExpiries;
    assert.ok(expiries > 0, 'the killed worker held leases that expired');
  });

  test('kill -9 of a manager mid-run, started again on its data: no acknowledged job lost', async () => {
    const [m1] = await startManagers(15630);
    await launch('worker', workerConfig(15630));
    const want = new Map<number, string>();
    const results = new Map(Array.from({ length: 5 }, (_, i) => [`m-${i}`, expected(`m-${i}`, 5_000)]));
    const enqueue = async (c: ManagerClient, n: number): Promise<void> => {
      const batch = Array.from({ length: n }, (_, i) => ({ data: `m-${i % 5}`, iterations: 5_000 }));
      (await c.enqueueBatch(batch)).forEach((id, i) => want.set(id, results.get(batch[i]!.data)!));
    };
    await enqueue(clients[0]!, 200);
    await enqueue(clients[1]!, 200);
    process.kill(m1!.pid!, 'SIGKILL');
    await waitFor('manager 1 to be gone', () => !isAlive(m1!.pid!));
    // While it is down, the other manager takes jobs, and pulls through it serve what it has.
    await enqueue(clients[1]!, 100);
    await launch('manager', managerConfig(1, 15630), 1);
    await waitFor('manager 1 back', async () => (await clients[0]!.healthz()).ok);
    const got = await pullAll(want.size, 120_000);
    for (const [id, result] of want) assert.equal(got.get(id), result, `job ${id}`);
  });
});
