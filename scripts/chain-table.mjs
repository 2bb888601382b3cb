// Prints, as JSON shaped like test/fixtures/vectors.json, the results of job
// chains computed with this Node's crypto: the expected side of
// scripts/check-arm64.sh, which feeds them to the arm64 addon under qemu.
// The first hash is the only one whose input length varies (every later one
// hashes 128 hex characters), so the inputs cover SHA-512's padding edges in
// bytes of UTF-8 (111 is the most one block holds, 112–128 spill into a
// second, 239/240 the same a block on), written with characters of 1 to 4
// bytes; one chain per length runs a few thousand steps, past the 1,024 that
// the addon runs between looks at the clock (native/chains.c STEP_CAP).
import { hash } from 'node:crypto';

const BYTES = [0, 1, 2, 63, 64, 65, 110, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257, 1000, 1024, 1100];
const CHARS = ['x', 'é', '✓', '😀'];

/** `bytes` bytes of UTF-8: as many `char` as fit, then ASCII. */
function text(char, bytes) {
  const width = Buffer.byteLength(char);
  return char.repeat(Math.floor(bytes / width)) + 'x'.repeat(bytes % width);
}

function chain(data, iterations) {
  let h = hash('sha512', data, 'hex');
  for (let i = 1; i < iterations; i++) h = hash('sha512', h, 'hex');
  return { data, iterations, result: h };
}

const vectors = [];
const seen = new Set();
for (const [i, bytes] of BYTES.entries()) {
  for (const char of CHARS) {
    const data = text(char, bytes);
    if (seen.has(data)) continue;
    seen.add(data);
    vectors.push(chain(data, 1));
  }
  // Counts that differ, so chains finish at different times and the lane is refilled mid-call.
  vectors.push(chain(text(CHARS[i % CHARS.length], bytes), 2000 + 97 * i));
}
process.stdout.write(JSON.stringify({ about: `computed by scripts/chain-table.mjs with Node ${process.version} ${process.arch} crypto (OpenSSL ${process.versions.openssl})`, vectors }) + '\n');
