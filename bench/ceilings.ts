/**
 * What this machine allows before any dynwork code runs, printed beside the
 * targets they bound (issue #14):
 *
 * - hashing on every core at once, against one core's rate times the cores
 *   (the efficiency yardstick): cores that slow each other down cap every
 *   cluster figure below 1.0;
 * - a bare Node HTTPS server (no routing, no queue, no disk) answering a PUT
 *   with an undici client sending 32 at once: no single-request figure of
 *   ours can pass it, since each enqueue is one such request;
 * - one HTTPS round trip and one fdatasync: an enqueue → result takes at least
 *   four round trips (enqueue, lease answer, completion, pull answer) and two
 *   syncs (the enqueue and the result are durable before they are answered).
 */
import { fork } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { ensureClusterCa, ensureManagerCert } from '../src/cluster/certificates.js';
import type { HashPath } from '../src/job/hash.js';
import { onCpu, pinnableCpus } from './affinity.js';
import { percentile } from './stats.js';

/** Steps per second of `threads` threads hashing at once on `path`, each with its lanes full, by wall clock. */
async function threadsAtOnce(path: HashPath, threads: number, seconds: number): Promise<number[]> {
  return Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(new URL('./hash-thread-rate.js', import.meta.url), { workerData: { path, seconds } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
}

export interface HashingCeiling {
  threads: number;
  /** One thread alone, on each CPU in turn (medians of the rounds), and their sum. */
  oneThread: number[];
  aloneSum: number;
  allThreads: number;
  /** allThreads ÷ aloneSum, the median of the rounds. */
  ratio: number;
  rounds: number[];
}

/**
 * Every core hashing at once against each core alone (pinned to it:
 * bench/affinity.ts), summed, in alternating rounds (this VM drifts).
 */
export async function hashingCeiling(path: HashPath, rounds = 3, seconds = 0.5): Promise<HashingCeiling> {
  const cpus = pinnableCpus();
  const threads = availableParallelism();
  const ones: number[][] = [];
  const alls: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const one: number[] = [];
    // Without taskset, one thread wherever it lands stands for every core.
    for (const cpu of cpus.length > 0 ? cpus : [undefined]) one.push((await onCpu(cpu, () => threadsAtOnce(path, 1, seconds)))[0]!);
    const alone = cpus.length > 0 ? one.reduce((a, b) => a + b, 0) : one[0]! * threads;
    const all = (await threadsAtOnce(path, threads, seconds)).reduce((a, b) => a + b, 0);
    ones.push(one);
    alls.push(all);
    ratios.push(all / alone);
  }
  const oneThread = ones[0]!.map((_, i) =>
    percentile(
      ones.map((o) => o[i]!),
      50,
    ),
  );
  return {
    threads,
    oneThread,
    aloneSum: cpus.length > 0 ? oneThread.reduce((a, b) => a + b, 0) : oneThread[0]! * threads,
    allThreads: percentile(alls, 50),
    ratio: percentile(ratios, 50),
    rounds: ratios,
  };
}

export interface HttpsFloor {
  /** PUTs answered per second with `inFlight` at once. */
  putsPerSec: number;
  inFlight: number;
  /** One request at a time, after a warm-up. */
  roundTripP50Ms: number;
  roundTripP99Ms: number;
  serverCpuMsPerPut: number;
  clientCpuMsPerPut: number;
}

/** A bare Node HTTPS server in its own process (as a manager is), with the cluster's kind of certificate (ECDSA P-256). */
export async function httpsFloor(home: string, opts: { puts?: number; inFlight?: number; roundTrips?: number } = {}): Promise<HttpsFloor> {
  const puts = opts.puts ?? 20_000;
  const inFlight = opts.inFlight ?? 32;
  const roundTrips = opts.roundTrips ?? 2_000;
  const ca = await ensureClusterCa('bench-floor');
  const dir = mkdtempSync(join(home, 'floor-'));
  const cert = await ensureManagerCert(ca, 'bench-floor', 1, ['127.0.0.1'], dir);
  const server = fork(new URL('./https-floor-server.js', import.meta.url), [cert.certFile, cert.keyFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const agent = new Agent({ connect: { ca: ca.certPem } });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.once('message', (m) => resolve((m as { port: number }).port));
      server.once('exit', (code) => reject(new Error(`floor server exited ${code}`)));
    });
    const url = `https://127.0.0.1:${port}/enqueue?iterations=1`;
    const put = async (i: number) => {
      const res = await request(url, { dispatcher: agent, method: 'PUT', headers: { 'content-type': 'text/plain' }, body: `small-${i}`, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`floor server answered ${res.statusCode}`);
    };
    // CPU milliseconds of the server and of this process so far.
    const cpu = async (): Promise<[number, number]> => {
      const serverMs = await new Promise<number>((resolve) => {
        server.once('message', (m) => resolve((m as { cpuMs: number }).cpuMs));
        server.send('cpu');
      });
      const u = process.cpuUsage();
      return [serverMs, (u.user + u.system) / 1000];
    };
    for (let i = 0; i < 500; i++) await put(i);
    const [s0, c0] = await cpu();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < puts) await put(next++);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const [s1, c1] = await cpu();
    const rtt: number[] = [];
    for (let i = 0; i < roundTrips; i++) {
      const t = performance.now();
      await put(i);
      rtt.push(performance.now() - t);
    }
    return {
      putsPerSec: puts / seconds,
      inFlight,
      roundTripP50Ms: percentile(rtt, 50),
      roundTripP99Ms: percentile(rtt, 99),
      serverCpuMsPerPut: (s1 - s0) / puts,
      clientCpuMsPerPut: (c1 - c0) / puts,
    };
  } finally {
    server.kill();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** fdatasync of a 4 KiB append (a WAL commit's write) in `dir`, on the disk the queue lives on. */
export function fsyncFloor(dir: string, n = 500): { p50Ms: number; p99Ms: number } {
  const file = join(mkdtempSync(join(dir, 'fsync-')), 'wal');
  const fd = openSync(file, 'w', 0o600);
  const block = Buffer.alloc(4096, 1);
  const xs: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      writeSync(fd, block);
      const t = performance.now();
      fdatasyncSync(fd);
      xs.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
  }
  return { p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99) };
}
