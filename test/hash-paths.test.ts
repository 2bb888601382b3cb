/**
 * Every hash path this machine runs gives the job's results: the multi-buffer
 * kernels (native/mb_*.c), the single-stream loop and JavaScript, checked
 * against Node's OpenSSL and the repository's independent vectors, with lanes
 * refilled as chains of different lengths finish. And the AVX2 kernel carries
 * no AVX-512 instruction, or it would crash on an AVX2-only CPU.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HASH_PATHS, LANES, NATIVE_ADDON_FILE, checkPath, choosePath, iteratedSha512Js, supportedPaths } from '../src/job/hash.js';
import { pickPath } from '../src/runtime/worker/dispatch.js';
import { memoryLogger } from './helpers.js';
import { runAll } from './run-chains.js';

interface Vector {
  data: string;
  iterations: number;
  result: string;
}
const vectors = (JSON.parse(readFileSync(new URL('../../test/fixtures/vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors;

/** A small deterministic generator (mulberry32), so a failure names a case that can be run again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lengths 0–1,100 with the padding boundaries, ASCII and multi-byte UTF-8, iterations 1 to a few thousand, and two long chains. */
function table(): { data: string; iterations: number }[] {
  const rnd = random(14);
  const alphabet = ['a', 'Z', '0', ' ', 'é', '€', '😀', '\u0000', '\n'];
  const lengths = [0, 1, 63, 64, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 1_100];
  for (let i = 0; i < 40; i++) lengths.push(Math.floor(rnd() * 1_101));
  const jobs = lengths.map((len, i) => {
    let data = '';
    while (data.length < len) data += i % 3 === 0 ? 'x' : alphabet[Math.floor(rnd() * alphabet.length)]!;
    return { data: data.slice(0, len), iterations: i % 4 === 0 ? 1 : 1 + Math.floor(rnd() * 3_000) };
  });
  jobs.push({ data: 'long chain', iterations: 40_000 }, { data: 'another long chain', iterations: 25_001 });
  return jobs;
}

const jobs = table();
const want = jobs.map((j) => iteratedSha512Js(j.data, j.iterations));

describe('every hash path this machine runs', () => {
  test('the paths are the ones this CPU can run, best first, JavaScript last', () => {
    const paths = supportedPaths();
    assert.equal(paths.at(-1), 'javascript');
    if (NATIVE_ADDON_FILE) assert.ok(paths.includes('scalar'), 'the addon always has the single-stream loop');
    if (arch() !== 'x64') assert.deepEqual(paths, NATIVE_ADDON_FILE ? ['scalar', 'javascript'] : ['javascript']);
    assert.deepEqual(
      paths,
      HASH_PATHS.filter((p) => paths.includes(p)),
    );
  });

  for (const path of supportedPaths()) {
    test(`${path}: agrees with OpenSSL on ${jobs.length} chains (lengths 0–1,100, UTF-8, iterations 1 to 40,000)`, () => {
      const got = runAll(path, jobs);
      for (let i = 0; i < jobs.length; i++) assert.equal(got[i], want[i], `${path}: ${jobs[i]!.data.length} characters × ${jobs[i]!.iterations}`);
    });

    test(`${path}: every vector, fewer chains than lanes and more`, () => {
      for (const n of [1, 2, LANES[path] - 1, LANES[path] + 1, vectors.length]) {
        const some = vectors.slice(0, Math.max(1, Math.min(n, vectors.length)));
        assert.deepEqual(
          runAll(path, some),
          some.map((v) => v.result),
        );
      }
    });

    test(`${path}: the start-up check passes`, () => {
      assert.equal(checkPath(path), null);
    });
  }
});

describe('choosing a path', () => {
  test('DYNWORK_HASH picks one; a name that is no path, or one this machine lacks, is refused naming what it runs', () => {
    assert.equal(choosePath(''), choosePath(undefined));
    for (const p of supportedPaths()) assert.equal(choosePath(p), p);
    assert.throws(() => choosePath('sse9'), /DYNWORK_HASH=sse9 is not a hash path: use one of avx512, avx512vl, avx2, scalar, javascript \(this machine runs /);
    for (const p of HASH_PATHS.filter((x) => !supportedPaths().includes(x))) assert.throws(() => choosePath(p), /this machine cannot run it/);
  });

  test('a worker whose path gives a wrong answer at start-up falls back to the next one, and says so', () => {
    const { logger, lines } = memoryLogger();
    const paths = supportedPaths();
    const path = pickPath(paths[0], logger, (p) => (p === paths[0] ? 'wrong digest' : null));
    assert.equal(path, paths[1]);
    assert.ok(lines.some((l) => l.includes('"hash path gave wrong results at start-up; trying the next one"') && l.includes('wrong digest')));
    assert.ok(lines.some((l) => l.includes('"msg":"hash path"') && l.includes(`"path":"${paths[1]}"`)));
  });

  test('a forced path that is no path is logged and the best one used', () => {
    const { logger, lines } = memoryLogger();
    assert.equal(pickPath('bogus', logger), supportedPaths()[0]);
    assert.ok(lines.some((l) => l.includes('hash path refused') && l.includes('bogus')));
  });
});

/** Instructions of `symbol` in the addon that need AVX-512: EVEX-encoded (0x62 after any prefixes), zmm, mask or upper-16 registers. */
function avx512Instructions(symbol: string): string[] {
  const out = execFileSync('objdump', ['-d', `--disassemble=${symbol}`, NATIVE_ADDON_FILE!], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const lines = out.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l));
  assert.ok(lines.length > 500, `${symbol} is in the addon and disassembles (${lines.length} instructions)`);
  return lines.filter((l) => {
    const [, bytes = '', text = ''] = l.split('\t');
    const b = bytes.trim().split(' ');
    let i = 0;
    while (i < b.length && /^(f0|f2|f3|2e|36|3e|26|64|65|66|67)$/.test(b[i]!)) i++;
    return b[i] === '62' || /%zmm|%k[0-7]|%[xy]mm(1[6-9]|2\d|3[01])\b|\{/.test(text);
  });
}

describe('each kernel is built for its own instruction set', () => {
  test('the AVX2 kernel has no AVX-512 instruction; the AVX-512 ones have (so the check can see them)', () => {
    assert.ok(NATIVE_ADDON_FILE, 'the addon is built or prebuilt for this machine');
    if (arch() !== 'x64') return assert.doesNotMatch(execFileSync('nm', ['-D', NATIVE_ADDON_FILE], { encoding: 'utf8' }), /dw_kernel_/);
    for (const k of ['dw_kernel_avx2x4', 'dw_kernel_avx2x8', 'dw_kernel_avx2x12']) assert.deepEqual(avx512Instructions(k).slice(0, 5), [], k);
    for (const k of ['dw_kernel_avx512x8', 'dw_kernel_avx512x16', 'dw_kernel_avx512x24']) assert.ok(avx512Instructions(k).length > 100, k);
    // EVEX on 256-bit registers: what -march=native would slip into the AVX2 kernels.
    for (const k of ['dw_kernel_avx512vlx4', 'dw_kernel_avx512vlx8', 'dw_kernel_avx512vlx12']) assert.ok(avx512Instructions(k).length > 100, k);
  });

  // The check above reads the code; this one runs it where an AVX-512 instruction would be illegal.
  test('on emulated CPUs with AVX2 and no AVX-512 (Haswell, as older Intel; EPYC-Milan, as AMD Zen 3), only avx2 and scalar are offered, and avx2 gives every result', () => {
    if (arch() !== 'x64') return assert.ok(!supportedPaths().includes('avx2'));
    const qemu = spawnSync('sh', ['-c', 'command -v qemu-x86_64'], { encoding: 'utf8' }).stdout.trim();
    assert.notEqual(qemu, '', 'qemu-x86_64 is not on PATH: apt-get install qemu-user (.ci/run does)');
    // Every vector, and the table without its two long chains (emulation runs the kernels about a hundred times slower).
    const some = [...vectors, ...jobs.filter((j) => j.iterations < 10_000)];
    const expected = [...vectors.map((v) => v.result), ...want.filter((_, i) => jobs[i]!.iterations < 10_000)];
    const child = fileURLToPath(new URL('./avx2-only-child.js', import.meta.url));
    for (const cpu of ['Haswell', 'EPYC-Milan']) {
      const r = spawnSync(qemu, ['-cpu', cpu, process.execPath, child], { input: JSON.stringify(some), encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
      assert.equal(r.status, 0, `${cpu}: ${r.error?.message ?? ''}${r.stderr}`);
      const out = JSON.parse(r.stdout) as { supported: string[]; results: string[] };
      assert.deepEqual(out.supported, ['avx2', 'scalar', 'javascript'], cpu);
      assert.equal(out.results.length, expected.length);
      for (let i = 0; i < expected.length; i++) assert.equal(out.results[i], expected[i], `${cpu}: ${some[i]!.data.length} characters × ${some[i]!.iterations}`);
    }
  });
});
