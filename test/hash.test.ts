import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HASH_IMPLEMENTATIONS, iteratedSha512, iteratedSha512Plain } from '../src/job/hash.js';
import runChunk from '../src/runtime/worker/hash-thread.js';

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
  const jobs = vectors.map((v) => ({ data: v.data, iterations: v.iterations }));
  const out = runChunk({ jobs });
  assert.deepEqual(
    out.results,
    vectors.map((v) => v.result),
  );
  assert.ok(out.ms >= 0);
  assert.deepEqual(out.errors, []);
});

test('a bad job in a chunk costs only itself', () => {
  const out = runChunk({
    jobs: [
      { data: 'Hello', iterations: 1 },
      { data: 'x', iterations: 0 },
      { data: 'Hello', iterations: 10 },
    ],
  });
  assert.equal(out.results[0], vectors[0]!.result);
  assert.equal(out.results[1], null);
  assert.equal(out.results[2], vectors[1]!.result);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.index, 1);
});
