import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HASH_IMPLEMENTATIONS, choosePath, iteratedSha512, iteratedSha512Js, iteratedSha512Plain, supportedPaths } from '../src/job/hash.js';
import runChunk, { type ChunkTask } from '../src/runtime/worker/hash-thread.js';

interface Vector {
  data: string;
  iterations: number;
  result: string;
}

// Computed independently (Python hashlib); the repository's own copy of shared/vectors.json, as a clone has no shared/.
const vectors = (JSON.parse(readFileSync(new URL('../../test/fixtures/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

test('the vectors file is there and not empty', () => {
  assert.ok(vectors.length >= 5);
  for (const v of vectors) assert.match(v.result, /^[0-9a-f]{128}$/);
});

for (const [name, f] of Object.entries(HASH_IMPLEMENTATIONS)) {
  test(`${name}: every vector`, () => {
    for (const v of vectors) {
      assert.equal(f(v.data, v.iterations), v.result, `${JSON.stringify(v.data.slice(0, 20))} × ${v.iterations}`);
    }
  });

  test(`${name}: refuses iterations below 1 or not an integer`, () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => f('x', bad), RangeError);
  });
}

test('the implementation in use and the baseline are the ones the table names', () => {
  const impls = Object.values(HASH_IMPLEMENTATIONS);
  assert.equal(impls[0], iteratedSha512);
  assert.ok(impls.includes(iteratedSha512Plain));
});

test('implementations agree beyond the vectors (odd data, longer chains)', () => {
  const cases: [string, number][] = [
    ['\u0000', 2],
    ['lone \ud800 surrogate \udc00', 3],
    ['😀 surrogate pairs 😀', 5],
    ['x'.repeat(200_000), 2],
    ['Hello', 2_500],
  ];
  for (const [data, n] of cases) {
    const want = iteratedSha512Plain(data, n);
    for (const [name, f] of Object.entries(HASH_IMPLEMENTATIONS)) assert.equal(f(data, n), want, `${name} on ${n}`);
  }
});

test('a thread chunk returns every result in the order of its jobs', () => {
  const out = runChunk({ path: choosePath(), budgetMs: 10_000, jobs: vectors.map((v) => ({ data: v.data, digest: null, remaining: v.iterations - 1 })) });
  assert.deepEqual(
    out.results,
    vectors.map((v) => v.result),
  );
  assert.ok(out.ms >= 0);
});

test('a chunk cut short by its budget hands back chains that resume, on another path, to the same results', () => {
  const jobs = vectors.map((v, i) => ({ data: v.data, iterations: v.iterations + 3_000 * i }));
  const want = jobs.map((j) => iteratedSha512Js(j.data, j.iterations));
  const paths = supportedPaths();
  const results: (string | null)[] = jobs.map(() => null);
  // Which job each entry of the task is.
  let ids = jobs.map((_, k) => k);
  let task: ChunkTask = { path: paths[0]!, budgetMs: 0, jobs: jobs.map((j) => ({ data: j.data, digest: null, remaining: j.iterations - 1 })) };
  let rounds = 0;
  for (; rounds < 10_000 && task.jobs.length > 0; rounds++) {
    const out = runChunk(task);
    const open: number[] = [];
    out.results.forEach((r, k) => (r === null ? open.push(k) : (results[ids[k]!] = r)));
    ids = open.map((k) => ids[k]!);
    task = { path: paths[rounds % paths.length]!, budgetMs: 0, jobs: open.map((k) => ({ data: null, digest: out.digests.slice(64 * k, 64 * k + 64), remaining: out.remaining[k]! })) };
  }
  assert.ok(rounds > 2, 'a zero budget stops after the first kernel call');
  assert.deepEqual(results, want);
});
