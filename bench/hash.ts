/**
 * Iterated SHA-512 speed per core, one row per implementation, and the cost of
 * handing tiny jobs to worker threads one per message vs in chunks.
 *
 *   npx tsc -p . && node dist/bench/hash.js [--ms 400] [--rounds 5] [--json]
 *
 * A benchmark, never a test: it asserts only correctness (every implementation
 * must reproduce the repository's vectors, test/fixtures/vectors.json, before it is timed).
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { HASH_IMPLEMENTATIONS, choosePath, iteratedSha512, type IteratedSha512 } from '../src/job/hash.js';
import type { ChunkResult, ChunkTask } from '../src/runtime/worker/hash-thread.js';
import { median } from './stats.js';

const { values: args } = parseArgs({
  options: {
    ms: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const roundMs = Number(args.ms);
const rounds = Number(args.rounds);

interface Vector {
  data: string;
  iterations: number;
  result: string;
}

function loadVectors(): Vector[] {
  try {
    const file = new URL('../../test/fixtures/vectors.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] }).vectors;
  } catch {
    // Outside the workspace: a self-check against the baseline still catches a broken variant.
    return [{ data: 'Hello', iterations: 10, result: '050e8b841c7412c4cc6e5139f625c1b1a40ac4fc12f7dcd77d667d2a9e419dc59901e42ca3ce2153179689ade1a0b6d48642557f4b01629eb7c139739a8fe95d' }];
  }
}

function checkCorrect(name: string, f: IteratedSha512, vectors: Vector[]): void {
  for (const v of vectors) {
    if (f(v.data, v.iterations) !== v.result) throw new Error(`${name} is WRONG for ${JSON.stringify(v.data.slice(0, 20))} × ${v.iterations}`);
  }
}

/** Iterations per second of one run of `iterations` (one job: the chain is sequential). */
function timeOnce(f: IteratedSha512, iterations: number): number {
  const t0 = process.hrtime.bigint();
  f('Hello', iterations);
  return iterations / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function hashTable(): { name: string; perSec: number; nsPerHash: number; ratio: number }[] {
  const entries = Object.entries(HASH_IMPLEMENTATIONS);
  const vectors = loadVectors();
  for (const [name, f] of entries) checkCorrect(name, f, vectors);
  // Size each run to about roundMs, from a short warm-up that also lets V8 optimise.
  const sizes = new Map<string, number>();
  for (const [name, f] of entries) {
    f('warm-up', 50_000);
    sizes.set(name, Math.max(10_000, Math.round((timeOnce(f, 100_000) * roundMs) / 1000)));
  }
  const samples = new Map<string, number[]>(entries.map(([n]) => [n, []]));
  // Interleaved rounds, so drift (turbo, a noisy neighbour) hits every row alike.
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of entries) samples.get(name)!.push(timeOnce(f, sizes.get(name)!));
  }
  const baseline = median(samples.get('createHash loop (baseline)')!);
  return entries.map(([name]) => {
    const perSec = median(samples.get(name)!);
    return { name, perSec, nsPerHash: 1e9 / perSec, ratio: perSec / baseline };
  });
}

/**
 * The floor: OpenSSL's SHA-512 over one big buffer, as ns per 256 bytes (one
 * iteration hashes 128 bytes plus a padding block: two compressions). What an
 * iteration costs above this is per-call overhead.
 */
function compressionFloor(): { mbPerSec: number; nsPer256: number } {
  const big = Buffer.alloc(32 << 20, 0x61);
  hash('sha512', big);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 4; i++) hash('sha512', big);
  const bytesPerSec = (4 * big.length) / (Number(process.hrtime.bigint() - t0) / 1e9);
  return { mbPerSec: bytesPerSec / 1e6, nsPer256: (256 / bytesPerSec) * 1e9 };
}

/** Tiny jobs (iterations = 1) through one worker thread: one message per job vs chunks. */
async function chunkTable(): Promise<{ name: string; jobsPerSec: number }[]> {
  const pool = new Piscina<ChunkTask, ChunkResult>({
    filename: new URL('../src/runtime/worker/hash-thread.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
  });
  const jobs = Array.from({ length: 20_000 }, (_, i) => ({ data: `job ${i}`, digest: null, remaining: 0 }));
  const path = choosePath();
  const out: { name: string; jobsPerSec: number }[] = [];
  try {
    await pool.run({ path, budgetMs: 1_000, jobs: jobs.slice(0, 1000) });
    for (const size of [1, 16, 256]) {
      const t0 = performance.now();
      const pending: Promise<ChunkResult>[] = [];
      for (let i = 0; i < jobs.length; i += size) pending.push(pool.run({ path, budgetMs: 1_000, jobs: jobs.slice(i, i + size) }));
      const results = await Promise.all(pending);
      const s = (performance.now() - t0) / 1000;
      if (results.flatMap((r) => r.results)[5] !== iteratedSha512('job 5', 1)) throw new Error('chunked results out of order');
      out.push({ name: size === 1 ? 'one job per message' : `${size} jobs per message`, jobsPerSec: jobs.length / s });
    }
  } finally {
    await pool.destroy();
  }
  return out;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const rows = hashTable();
const floor = compressionFloor();
const chunks = await chunkTable();
if (args.json) {
  process.stdout.write(JSON.stringify({ node: process.version, cpu: cpus()[0]?.model, roundMs, rounds, hash: rows, floor, chunks }, null, 2) + '\n');
} else {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`iterated SHA-512, one thread — ${process.version}, ${cpus()[0]?.model ?? '?'}; median of ${rounds} runs of ~${roundMs} ms`);
  console.log(`${'implementation'.padEnd(w)}  ${'hashes/s'.padStart(11)}  ${'ns/hash'.padStart(8)}  vs baseline`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${fmt(r.perSec).padStart(11)}  ${r.nsPerHash.toFixed(0).padStart(8)}  ${r.ratio.toFixed(2)}×`);
  }
  console.log(`(floor: bulk SHA-512 runs at ${fmt(floor.mbPerSec)} MB/s = ${floor.nsPer256.toFixed(0)} ns for the two blocks of one iteration)`);
  console.log('');
  console.log('tiny jobs (iterations = 1) through one worker thread');
  for (const c of chunks) console.log(`${c.name.padEnd(w)}  ${fmt(c.jobsPerSec).padStart(11)} jobs/s`);
}
