import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pinnableCpus } from '../bench/affinity.js';
import { LANES, choosePath } from '../src/job/hash.js';
import { RateMeter, timedChains } from '../src/runtime/worker/hash-rate.js';

test('RateMeter: the fastest recent sample, so a spell of sharing the CPU does not lower it; a slower CPU does once the window turns over', () => {
  const m = new RateMeter(20e6, 4);
  assert.equal(m.value, 20e6);
  for (const r of [10e6, 9e6, 12e6]) m.sample(r);
  assert.equal(m.value, 20e6, 'three slow samples beside the calibration');
  m.sample(11e6);
  assert.equal(m.value, 12e6, 'the calibration has left the window of 4');
  m.sample(0);
  m.sample(Number.NaN);
  assert.equal(m.value, 12e6, 'a run too short to time is no sample');
  m.sample(25e6);
  assert.equal(m.value, 25e6);
  assert.equal(new RateMeter(0).value, 1, 'never 0: the lease sizes divide by it');
});

test('timedChains: the chains go as far as runChains would take them, and a rate is measured', () => {
  const path = choosePath();
  const n = 2 * LANES[path];
  const digests = new Uint8Array(64 * n);
  const remaining = new Float64Array(n).fill(1_000_000_000);
  const out = timedChains(path, digests, remaining, 30);
  assert.equal(
    remaining.reduce((a, r) => a + (1_000_000_000 - r), 0),
    out.steps,
  );
  assert.ok(out.fastest > 0, 'a probe long enough to time');

  // Chains that end inside the probes: every step is counted and the call returns at once.
  const few = new Float64Array(n).fill(3);
  const done = timedChains(path, new Uint8Array(64 * n), few, 10_000);
  assert.equal(done.steps, 3 * n);
  assert.ok(few.every((r) => r === 0));
});

const hashRate = fileURLToPath(new URL('../src/runtime/worker/hash-rate.js', import.meta.url));
const hash = fileURLToPath(new URL('../src/job/hash.js', import.meta.url));

/** Runs calibrate and five 20 ms runs in a process pinned to `cpu`: what a worker would report, and what the wall clock says. */
function measureOn(cpu: number): { calibrated: number; fastest: number[]; average: number[] } {
  const script = `
    const { calibrate, timedChains } = await import(${JSON.stringify(hashRate)});
    const { LANES, choosePath } = await import(${JSON.stringify(hash)});
    const path = choosePath(); const n = 2 * LANES[path];
    const calibrated = calibrate(path, LANES[path]);
    const digests = new Uint8Array(64 * n); const remaining = new Float64Array(n).fill(1e12);
    const fastest = [], average = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now(); const r = timedChains(path, digests, remaining, 20);
      fastest.push(r.fastest); average.push(r.steps / ((performance.now() - t0) / 1000));
    }
    process.stdout.write(JSON.stringify({ calibrated, fastest, average }));`;
  return JSON.parse(execFileSync('taskset', ['-c', String(cpu), process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })) as {
    calibrated: number;
    fastest: number[];
    average: number[];
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

test("a worker sharing its CPU with a busy process still reports the CPU's rate (the autoscaler sizes the fleet by it)", async () => {
  const cpu = pinnableCpus()[0];
  assert.ok(cpu !== undefined, 'taskset (util-linux) is needed to pin the processes to one CPU');
  // Rates on a shared VM drift: up to three tries, each alone then shared; a wall-clock rate reads about half shared, every time.
  const tries: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const alone = measureOn(cpu);
    const busy = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', 'for (;;);'], { stdio: 'ignore' });
    let shared: ReturnType<typeof measureOn>;
    try {
      shared = measureOn(cpu);
    } finally {
      busy.kill('SIGKILL');
      if (busy.exitCode === null) await once(busy, 'exit');
    }
    // The wall clock reads the share the thread got: the CPU really was shared.
    const wasShared = median(shared.average) < 0.75 * median(alone.average);
    const calibrated = shared.calibrated > 0.8 * alone.calibrated;
    const runs = median(shared.fastest) > 0.8 * median(alone.fastest);
    if (wasShared && calibrated && runs) return;
    tries.push(
      `wall clock ${median(shared.average)} shared against ${median(alone.average)} alone; calibrated ${shared.calibrated} against ${alone.calibrated}; runs ${median(shared.fastest)} against ${median(alone.fastest)}`,
    );
  }
  assert.fail(`three tries:\n${tries.join('\n')}`);
});
