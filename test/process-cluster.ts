/**
 * A cluster of real manager and worker processes on 127.0.0.1 for tests,
 * started through the local provider and stopped by PID at the end.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ManagerClient } from '../src/client/manager-client.js';
import type { AutoscaleSettings } from '../src/settings/autoscale.js';
import { createLocalProvider } from '../src/providers/local.js';
import type { Instance, Provider } from '../src/providers/types.js';
import type { NewJob } from '../src/protocol/index.js';
import { isAlive, killAll } from './cli.js';
import { CLIENT_TOKEN, freePorts, tempDir, WORKER_TOKEN, waitFor } from './helpers.js';

/** Written apart from src/, so results are checked against an independent computation. */
export function expected(data: string, iterations: number): string {
  let h = createHash('sha512').update(Buffer.from(data, 'utf8')).digest('hex');
  for (let i = 1; i < iterations; i++) h = createHash('sha512').update(h, 'latin1').digest('hex');
  return h;
}

export interface TestClusterOptions {
  managers?: number;
  leaseMs?: number;
  /** Give the managers an autoscaler (the leader then launches, replaces and relaunches). */
  autoscale?: Partial<Extract<AutoscaleSettings, { provider: 'local' }>>;
  /** More manager config (ManagerConfig fields). */
  manager?: Record<string, unknown>;
  /** More worker config (WorkerConfig fields). */
  worker?: Record<string, unknown>;
}

export class TestCluster {
  readonly cluster = 'procs';
  readonly tmp = tempDir();
  readonly provider: Provider = createLocalProvider({ root: this.tmp.dir, graceMs: 3_000 });
  readonly pids = new Set<number>();
  clients: ManagerClient[] = [];
  /** Every acknowledged job and its independently computed result. */
  readonly want = new Map<number, string>();
  readonly got = new Map<number, string>();
  duplicates = 0;
  private readonly count: number;
  /** The managers' configured ports, allocated by start(). */
  private ports: number[] | undefined;

  constructor(readonly opts: TestClusterOptions = {}) {
    this.count = opts.managers ?? 2;
  }

  private port(index: number): number {
    if (!this.ports) throw new Error('TestCluster: start() allocates the ports; call it first');
    return this.ports[index - 1]!;
  }

  endpointFile(index: number): string {
    return join(this.tmp.dir, `m${index}`, 'endpoint.json');
  }

  private endpoints() {
    return Array.from({ length: this.count }, (_, i) => ({
      index: i + 1,
      url: `http://127.0.0.1:${this.port(i + 1)}`,
      endpointFile: this.endpointFile(i + 1),
    }));
  }

  managerConfig(index: number): Record<string, unknown> {
    const autoscale: AutoscaleSettings | undefined = this.opts.autoscale && {
      provider: 'local',
      root: this.tmp.dir,
      members: this.endpoints().map((e) => ({ index: e.index, host: '127.0.0.1', port: this.port(e.index), dataDir: join(this.tmp.dir, `m${e.index}`), endpointFile: e.endpointFile })),
      maxWorkers: 2,
      scaleUpAfterMs: 1_000,
      intervalMs: 500,
      workerIdleTimeoutMs: 60_000,
      workerThreads: 1,
      launchDeadlineMs: 20_000,
      heartbeatTimeoutMs: 30_000,
      managerDeadAfterMs: 2_000,
      workerNoManagerTimeoutMs: 600_000,
      workerMaxLifetimeMs: 0,
      ...this.opts.autoscale,
    };
    return {
      cluster: this.cluster,
      index,
      port: this.port(index),
      dataDir: join(this.tmp.dir, `m${index}`),
      peers: this.endpoints().filter((e) => e.index !== index),
      clientToken: CLIENT_TOKEN,
      workerToken: WORKER_TOKEN,
      leaseMs: this.opts.leaseMs ?? 2_000,
      sweepIntervalMs: 200,
      logLevel: 'info',
      ...(autoscale ? { autoscale } : {}),
      ...this.opts.manager,
    };
  }

  workerConfig(): Record<string, unknown> {
    return { cluster: this.cluster, managers: this.endpoints(), workerToken: WORKER_TOKEN, threads: 1, idleTimeoutMs: 120_000, leaseWaitMs: 1_000, logLevel: 'warn', ...this.opts.worker };
  }

  async launch(role: 'manager' | 'worker', index?: number): Promise<Instance> {
    const config = role === 'manager' ? this.managerConfig(index!) : this.workerConfig();
    const [inst] = await this.provider.launch(role, { cluster: this.cluster, config, ...(index ? { index } : {}) });
    this.pids.add(inst!.pid!);
    return inst!;
  }

  async start(): Promise<Instance[]> {
    this.ports = await freePorts(this.count);
    const ms: Instance[] = [];
    for (let i = 1; i <= this.count; i++) ms.push(await this.launch('manager', i));
    this.clients = this.endpoints().map((e) => new ManagerClient({ endpoint: e, token: CLIENT_TOKEN, timeoutMs: 5_000 }));
    for (const c of this.clients) await waitFor('manager up', async () => (await c.healthz()).ok);
    return ms;
  }

  /** Enqueues `n` jobs on manager `on` in one batch; records what each must come back as. */
  async enqueue(on: number, jobs: NewJob[], results: Map<string, string>): Promise<number[]> {
    const ids = await this.clients[on - 1]!.enqueueBatch(jobs);
    ids.forEach((id, i) => this.want.set(id, results.get(`${jobs[i]!.data}/${jobs[i]!.iterations}`)!));
    return ids;
  }

  /** One pull through manager `from` (round robin when omitted); a manager that is down is skipped. */
  private turn = 0;
  async pullOnce(from?: number): Promise<number> {
    const c = this.clients[(from ?? (this.turn++ % this.clients.length) + 1) - 1]!;
    let batch: { id: number; result: string }[];
    try {
      batch = await c.pullCompleted(1_000);
    } catch (err) {
      this.lastPullError = `${c.url}: ${(err as Error).message}`;
      return 0;
    }
    for (const j of batch) {
      if (this.got.has(j.id)) this.duplicates++;
      this.got.set(j.id, j.result);
    }
    return batch.length;
  }

  private lastPullError: string | undefined;

  async pullAll(timeoutMs: number, during?: () => Promise<void>): Promise<void> {
    try {
      await waitFor(
        `${this.want.size} results`,
        async () => {
          await during?.();
          await this.pullOnce();
          return this.got.size >= this.want.size;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      // What a failure in CI needs to be understood afterwards: how far it got, and where each manager stands.
      const queues = await Promise.all(
        this.clients.map((c) =>
          c.status().then(
            (s) => JSON.stringify({ queue: s.queue, healthy: s.healthy, workers: s.workers.length }),
            (e: Error) => e.message,
          ),
        ),
      );
      throw new Error(`${(err as Error).message}: have ${this.got.size}; last pull error: ${this.lastPullError ?? 'none'}; managers: ${queues.join(' | ')}`, { cause: err });
    }
  }

  /** The scenario's one-line summary; lost, duplicated and wrong must all be 0. */
  summary(name: string, faults: number): { line: string; lost: number; duplicated: number; wrong: number } {
    let lost = 0;
    let wrong = 0;
    for (const [id, result] of this.want) {
      const g = this.got.get(id);
      if (g === undefined) lost++;
      else if (g !== result) wrong++;
    }
    const line = `${name}: jobs ${this.want.size}, faults injected ${faults}, lost ${lost}, duplicated ${this.duplicates}, wrong ${wrong}`;
    return { line, lost, duplicated: this.duplicates, wrong };
  }

  async status(index: number) {
    return this.clients[index - 1]!.status();
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    // Managers first, so no leader starts workers meanwhile.
    await this.provider.terminate((await this.provider.list({ cluster: this.cluster, role: 'manager' })).map((i) => i.id));
    await this.provider.terminate((await this.provider.list({ cluster: this.cluster })).map((i) => i.id));
    for (const pid of this.pids) if (isAlive(pid)) process.kill(pid, 'SIGCONT');
    const left = [...this.pids].filter(isAlive);
    killAll(left);
    this.tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running');
  }
}

/** `n` jobs cycling over `distinct` inputs (so checking results stays cheap) and the expected result of each input. */
export function jobSet(prefix: string, n: number, iterations: number, distinct = 10): { jobs: NewJob[]; results: Map<string, string> } {
  const results = new Map<string, string>();
  for (let i = 0; i < distinct; i++) results.set(`${prefix}-${i}/${iterations}`, expected(`${prefix}-${i}`, iterations));
  return { jobs: Array.from({ length: n }, (_, i) => ({ data: `${prefix}-${i % distinct}`, iterations })), results };
}
