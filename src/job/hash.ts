import { createHash, hash as oneShot } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type Addon = {
  iterate(data: string, iterations: number): string;
  paths(): { supported: NativePath[]; preferred: NativePath };
  run(path: NativePath, digests: Uint8Array, remaining: Float64Array, budgetMs: number): number;
};

/** The addon's loops: native/chains.c. */
export type NativePath = 'scalar' | 'avx2' | 'avx512vl' | 'avx512';
/** Every way a worker can hash: the addon's loops, or JavaScript without the addon. */
export type HashPath = NativePath | 'javascript';
export const HASH_PATHS: readonly HashPath[] = ['avx512', 'avx512vl', 'avx2', 'scalar', 'javascript'];

/**
 * The C chains in native/ (addon.c), found by node-gyp-build in the package root:
 * a local compile in build/Release first, else the committed prebuild in
 * prebuilds/<platform>-<arch> (one Node-API build serves every Node version,
 * so installing needs no compiler). Null when neither loads: then the
 * JavaScript loop below does the work.
 */
const addon: { native: Addon; file: string } | null = (() => {
  if (process.env.DYNWORK_NO_NATIVE) return null;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as ((dir: string) => Addon) & { path(dir: string): string };
    // dist/src/job/hash.js → the package root
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    return { native: load(root), file: load.path(root) };
  } catch {
    return null;
  }
})();
const native = addon?.native ?? null;

/** The addon file in use (a local build or a prebuild), null without one: the tests disassemble it. */
export const NATIVE_ADDON_FILE: string | null = addon?.file ?? null;

/** Chains a path advances side by side at most: what it takes to fill its lanes (native/chains.c ladder). */
export const LANES: Readonly<Record<HashPath, number>> = { avx512: 24, avx512vl: 12, avx2: 12, scalar: 1, javascript: 1 };

/** The paths this machine can run, best first; 'javascript' is always last. */
export function supportedPaths(): HashPath[] {
  return [...(native?.paths().supported ?? []), 'javascript'];
}

/** The path this CPU runs best (on Skylake-era AVX-512 servers the 256-bit one: native/chains.c). */
export function preferredPath(): HashPath {
  return native?.paths().preferred ?? 'javascript';
}

/**
 * The path to hash with: `requested` (DYNWORK_HASH) when set, else the
 * preferred one. A path this machine cannot run is an error naming the ones
 * it can, never a crash on an illegal instruction.
 */
export function choosePath(requested: string | undefined = process.env.DYNWORK_HASH): HashPath {
  if (requested === undefined || requested === '') return preferredPath();
  const supported = supportedPaths();
  if (!(HASH_PATHS as readonly string[]).includes(requested)) {
    throw new RangeError(`DYNWORK_HASH=${requested} is not a hash path: use one of ${HASH_PATHS.join(', ')} (this machine runs ${supported.join(', ')})`);
  }
  if (!supported.includes(requested as HashPath)) {
    throw new RangeError(`DYNWORK_HASH=${requested}: this machine cannot run it (it runs ${supported.join(', ')})`);
  }
  return requested as HashPath;
}

/** The first step of a chain: SHA-512 of the job's data (UTF-8). */
export function firstDigest(data: string): Buffer {
  return oneShot('sha512', data, 'buffer');
}

/**
 * Advances chains in place: `digests` holds 64 bytes per chain, `remaining`
 * the steps each has left (0: done). Lanes are refilled as chains finish; it
 * returns once all are done or about `budgetMs` has passed, so the caller can
 * resume any chain later from its digest and count. Returns the steps done.
 */
export function runChains(path: HashPath, digests: Uint8Array, remaining: Float64Array, budgetMs: number): number {
  if (digests.length !== 64 * remaining.length) throw new RangeError('runChains: 64 bytes of digest per chain');
  if (path !== 'javascript') {
    if (!native) throw new RangeError(`hash path ${path} needs the native addon, which is not loaded`);
    return native.run(path, digests, remaining, budgetMs);
  }
  const start = performance.now();
  let done = 0;
  for (let i = 0; i < remaining.length; i++) {
    let left = remaining[i]!;
    if (left === 0) continue;
    if (done > 0 && performance.now() - start >= budgetMs) break;
    let d = Buffer.from(digests.buffer, digests.byteOffset + 64 * i, 64);
    while (left > 0) {
      const n = Math.min(left, 256);
      let h = d.toString('hex');
      for (let k = 1; k < n; k++) h = oneShot('sha512', h, 'hex');
      d = oneShot('sha512', h, 'buffer');
      left -= n;
      done += n;
      if (performance.now() - start >= budgetMs) break;
    }
    digests.set(d, 64 * i);
    remaining[i] = left;
    if (left > 0) break;
  }
  return done;
}

/**
 * Runs `path` on chains that cover its lanes, their refill and the padding
 * boundaries, against the JavaScript loop (Node's OpenSSL). Null when they
 * agree, else what differed: a worker checks its path this way at start-up.
 */
export function checkPath(path: HashPath): string | null {
  const jobs = [0, 1, 111, 112, 127, 128, 129, 200, 1_000, 1_100, 3, 64].map((len, i) => ({ data: 'é'.repeat(i % 2) + 'x'.repeat(len - (i % 2)), iterations: 1 + ((i * 37) % 41) }));
  const digests = new Uint8Array(64 * jobs.length);
  const remaining = new Float64Array(jobs.length);
  jobs.forEach((j, i) => {
    digests.set(firstDigest(j.data), 64 * i);
    remaining[i] = j.iterations - 1;
  });
  try {
    while (remaining.some((r) => r > 0)) runChains(path, digests, remaining, 50);
  } catch (err) {
    return (err as Error).message;
  }
  for (let i = 0; i < jobs.length; i++) {
    const got = Buffer.from(digests.subarray(64 * i, 64 * i + 64)).toString('hex');
    const want = iteratedSha512Js(jobs[i]!.data, jobs[i]!.iterations);
    if (got !== want) return `${path} gave ${got.slice(0, 16)}… for ${jobs[i]!.data.length} characters × ${jobs[i]!.iterations}, the JavaScript loop ${want.slice(0, 16)}…`;
  }
  return null;
}

/** Which loop `iteratedSha512` runs: for logs and the benchmark. */
export const HASH_BACKEND: 'native' | 'javascript' = native ? 'native' : 'javascript';

/**
 * The job's result: lowercase hex SHA-512 of `data` (UTF-8), then
 * `iterations - 1` more SHA-512s of the previous 128-char hex string.
 *
 * The native loop when it is built (about 1.4× the best JavaScript one, on
 * par with a plain C loop: `npm run bench`), else `iteratedSha512Js`.
 */
export function iteratedSha512(data: string, iterations: number): string {
  checkIterations(iterations);
  if (native) return native.iterate(data, iterations);
  return iteratedSha512Js(data, iterations);
}

/**
 * The fastest pure-JavaScript loop measured (bench/hash.ts): `crypto.hash()`
 * one-shot with a hex string output. It skips the Hash object that
 * `createHash()` allocates per call, and a hex string turned out cheaper than a
 * Buffer output (Node allocates a Buffer per digest).
 */
export function iteratedSha512Js(data: string, iterations: number): string {
  checkIterations(iterations);
  let h = oneShot('sha512', data, 'hex');
  for (let i = 1; i < iterations; i++) h = oneShot('sha512', h, 'hex');
  return h;
}

/** The plain loop everyone writes first; kept as the benchmark's baseline. */
export function iteratedSha512Plain(data: string, iterations: number): string {
  checkIterations(iterations);
  let h = createHash('sha512').update(data, 'utf8').digest('hex');
  for (let i = 1; i < iterations; i++) h = createHash('sha512').update(h).digest('hex');
  return h;
}

// --- Variants kept for the benchmark and the tests (slower; see bench/hash.ts) ---

/**
 * Hex digits of every byte, two ASCII characters per entry. Filled through a
 * byte view, so `out16[i] = HEX16[b]` lays the two characters down in memory
 * order whatever the platform's endianness.
 */
const HEX16 = new Uint16Array(256);
{
  const bytes = new Uint8Array(HEX16.buffer);
  const digits = '0123456789abcdef';
  for (let b = 0; b < 256; b++) {
    bytes[2 * b] = digits.charCodeAt(b >> 4);
    bytes[2 * b + 1] = digits.charCodeAt(b & 15);
  }
}

/** Hex-encodes a 64-byte digest into `out16` (a 128-byte buffer viewed as 64 uint16). */
function hexInto(digest: Uint8Array, out16: Uint16Array): void {
  for (let j = 0; j < 64; j++) out16[j] = HEX16[digest[j]!]!;
}

/** createHash() with a binary digest hex-encoded into one reused buffer (no strings in the loop). */
export function iteratedSha512DigestBuffer(data: string, iterations: number): string {
  checkIterations(iterations);
  const hex = new Uint8Array(128);
  const hex16 = new Uint16Array(hex.buffer);
  let d: Uint8Array = createHash('sha512').update(data, 'utf8').digest();
  for (let i = 1; i < iterations; i++) {
    hexInto(d, hex16);
    d = createHash('sha512').update(hex).digest();
  }
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
}

/** crypto.hash() one-shot with a Buffer output hex-encoded into one reused buffer. */
export function iteratedSha512OneShotBuffer(data: string, iterations: number): string {
  checkIterations(iterations);
  const hex = new Uint8Array(128);
  const hex16 = new Uint16Array(hex.buffer);
  let d: Buffer = oneShot('sha512', data, 'buffer');
  for (let i = 1; i < iterations; i++) {
    hexInto(d, hex16);
    d = oneShot('sha512', hex, 'buffer');
  }
  return d.toString('hex');
}

/** createHash() fed the previous hex string as latin1 (one byte a character, no UTF-8 scan). */
export function iteratedSha512Latin1(data: string, iterations: number): string {
  checkIterations(iterations);
  let h = createHash('sha512').update(data, 'utf8').digest('hex');
  for (let i = 1; i < iterations; i++) h = createHash('sha512').update(h, 'latin1').digest('hex');
  return h;
}

export type IteratedSha512 = (data: string, iterations: number) => string;

/** Every implementation by name, the one in use first, then the baseline. */
export const HASH_IMPLEMENTATIONS: Readonly<Record<string, IteratedSha512>> = Object.freeze({
  [`worker code path (${native ? 'native C addon' : 'crypto.hash one-shot'})`]: iteratedSha512,
  'crypto.hash one-shot (JS fallback)': iteratedSha512Js,
  'createHash loop (baseline)': iteratedSha512Plain,
  'createHash, latin1 input': iteratedSha512Latin1,
  'createHash, Buffer digest + reused hex buffer': iteratedSha512DigestBuffer,
  'crypto.hash, Buffer output + reused hex buffer': iteratedSha512OneShotBuffer,
});

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`iterations must be an integer ≥ 1, got ${String(iterations)}`);
  }
}
