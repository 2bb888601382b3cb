import { createHash, hash as oneShot } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type Addon = { iterate(data: string, iterations: number): string };

/**
 * The C loop in native/sha512.c, found by node-gyp-build in the package root:
 * a local compile in build/Release first, else the committed prebuild in
 * prebuilds/<platform>-<arch> (one Node-API build serves every Node version,
 * so installing needs no compiler). Null when neither loads: then the
 * JavaScript loop below does the work.
 */
const native: Addon | null = (() => {
  if (process.env.DYNWORK_NO_NATIVE) return null;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => Addon;
    // dist/src/job/hash.js → the package root
    return load(fileURLToPath(new URL('../../../', import.meta.url)));
  } catch {
    return null;
  }
})();

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
