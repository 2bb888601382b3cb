// Run by scripts/check-arm64.sh on an arm64 Node under qemu-aarch64: loads the
// linux-arm64 prebuild directly (not through node-gyp-build, which would fall
// back to JavaScript and hide a broken file) and checks it against results
// computed elsewhere. One line per check; exits 1 if any fails.
//   node check-arm64.mjs ADDON.node VECTORS.json... --sha512=yes|no
// --sha512 is whether the emulated CPU has the ARMv8.2 SHA-512 instructions,
// which decide which of OpenSSL's SHA-512 loops the addon runs.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const sha512Flag = args.find((a) => a.startsWith('--sha512='));
const [addonFile, ...tables] = args.filter((a) => a !== sha512Flag);
if (!addonFile || tables.length === 0 || !['--sha512=yes', '--sha512=no'].includes(sha512Flag ?? '')) {
  console.error('usage: node check-arm64.mjs ADDON.node VECTORS.json... --sha512=yes|no');
  process.exit(2);
}

let failed = 0;
/** Runs one check: `fn` returns what it found, or throws what went wrong. */
function check(name, fn) {
  try {
    console.log(`ok   ${name}: ${fn()}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The CPU features the kernel (here qemu) hands the process: AT_HWCAP of the aux vector. */
function hwcap() {
  const auxv = readFileSync('/proc/self/auxv');
  for (let i = 0; i + 16 <= auxv.length; i += 16) if (auxv.readBigUInt64LE(i) === 16n) return auxv.readBigUInt64LE(i + 8);
  throw new Error('no AT_HWCAP in /proc/self/auxv');
}
const HWCAP_SHA512 = 1n << 21n;

const hex = (bytes) => Buffer.from(bytes).toString('hex');

check('node', () => {
  if (process.arch !== 'arm64') throw new Error(`this Node is ${process.arch}, not arm64`);
  const has = (hwcap() & HWCAP_SHA512) !== 0n;
  if (has !== (sha512Flag === '--sha512=yes')) throw new Error(`the CPU ${has ? 'has' : 'lacks'} the SHA-512 instructions, expected ${sha512Flag}`);
  return `${process.version} ${process.arch}, OpenSSL ${process.versions.openssl}, CPU ${has ? 'with' : 'without'} SHA-512 instructions`;
});

let addon = null;
check('load', () => {
  const module = { exports: {} };
  process.dlopen(module, addonFile);
  addon = module.exports;
  return `${addonFile} exports ${Object.keys(addon).join(', ')}`;
});
if (!addon) {
  console.log('check-arm64: the addon did not load; nothing else checked');
  process.exit(1);
}

check('paths()', () => {
  const p = addon.paths();
  if (!isDeepStrictEqual(p, { supported: ['scalar'], preferred: 'scalar' })) throw new Error(`got ${JSON.stringify(p)}, expected supported ['scalar'], preferred 'scalar'`);
  return JSON.stringify(p);
});

const all = [];
for (const file of tables) {
  const { vectors } = JSON.parse(readFileSync(file, 'utf8'));
  all.push(...vectors);
  check(`iterate() × ${basename(file)}`, () => {
    const wrong = vectors.filter((v) => addon.iterate(v.data, v.iterations) !== v.result);
    if (wrong.length > 0) throw new Error(`${wrong.length} of ${vectors.length} differ, first: ${Buffer.byteLength(wrong[0].data)} bytes × ${wrong[0].iterations}`);
    return `${vectors.length} chains, ${vectors.reduce((n, v) => n + v.iterations, 0)} steps agree`;
  });
}

// Every chain at once, as a worker hands them over: the first hash done by
// Node's crypto, then the addon's steps, resumed call after call.
check("run('scalar') resumed", () => {
  const digests = new Uint8Array(64 * all.length);
  const remaining = new Float64Array(all.length);
  all.forEach((v, i) => {
    digests.set(createHash('sha512').update(v.data, 'utf8').digest(), 64 * i);
    remaining[i] = v.iterations - 1;
  });
  const want = all.reduce((n, v) => n + v.iterations - 1, 0);
  let calls = 0;
  let steps = 0;
  let paused = 0;
  while (remaining.some((r) => r > 0)) {
    if (++calls > 100_000) throw new Error('no end in sight: chains left after 100,000 calls');
    const done = addon.run('scalar', digests, remaining, 1);
    if (!(done > 0)) throw new Error(`call ${calls} did ${done} steps with chains left`);
    steps += done;
    paused += remaining.filter((r, i) => r > 0 && r < all[i].iterations - 1).length;
  }
  // A chain stopped halfway through and picked up by a later call: what a 1 ms budget must cause.
  if (paused === 0) throw new Error(`every chain finished within the call that started it (${calls} calls): resumption was not exercised`);
  if (steps !== want) throw new Error(`run() reported ${steps} steps, the chains needed ${want}`);
  const wrong = all.filter((v, i) => hex(digests.subarray(64 * i, 64 * i + 64)) !== v.result);
  if (wrong.length > 0) throw new Error(`${wrong.length} of ${all.length} chains differ, first: ${Buffer.byteLength(wrong[0].data)} bytes × ${wrong[0].iterations}`);
  return `${all.length} chains, ${steps} steps in ${calls} calls of 1 ms agree`;
});

// The x64 kernels are not in this build: a worker forcing one (DYNWORK_HASH)
// must get an error, never an illegal instruction, and its chains untouched.
for (const path of ['avx2', 'avx512vl', 'avx512', 'sse']) {
  check(`run('${path}') refused`, () => {
    const digests = new Uint8Array(64).fill(7);
    const remaining = new Float64Array([5]);
    let message;
    try {
      addon.run(path, digests, remaining, 1);
    } catch (err) {
      message = err instanceof Error ? err.message : String(err);
    }
    const expected = path === 'sse' ? 'unknown hash path' : 'this CPU does not support that hash path';
    if (message !== expected) throw new Error(message === undefined ? 'it ran' : `threw "${message}", expected "${expected}"`);
    if (remaining[0] !== 5 || digests.some((b) => b !== 7)) throw new Error('it threw but changed the chain');
    return message;
  });
}

console.log(`check-arm64: ${failed === 0 ? 'all passed' : `${failed} failed`}`);
process.exit(failed === 0 ? 0 : 1);
