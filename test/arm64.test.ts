/**
 * The linux-arm64 prebuild is what Graviton workers load, and nothing else on
 * this x64 machine runs it: scripts/check-arm64.sh does, under qemu-user, with
 * an arm64 Node from the npm registry. Without qemu it fails, naming the
 * packages to install (.ci/run installs them), like the browser tests without chromium.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test → the repository root
const repo = fileURLToPath(new URL('../../', import.meta.url));
const qemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
const PACKAGES = 'qemu-user libc6-arm64-cross libstdc++6-arm64-cross';

/** Runs the script in a process group of its own, so a timeout kills qemu too, not only bash. */
function runScript(timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/check-arm64.sh'], { cwd: repo, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('the linux-arm64 prebuild hashes like Node’s crypto on an emulated arm64 CPU, with and without the SHA-512 instructions (scripts/check-arm64.sh)', async () => {
  assert.notEqual(qemu, '', `qemu-aarch64 is not on PATH: apt-get install ${PACKAGES} (.ci/run does)`);
  // Seconds once the arm64 Node is in the cache; the first run downloads it (about 40 MB).
  const r = await runScript(180_000);
  assert.equal(r.code, 0, r.output);
  // Both emulated CPUs ran to the end: a script that stopped early or skipped one would not print these.
  const passed = r.output.match(/^check-arm64: all passed$/gm) ?? [];
  assert.equal(passed.length, 2, r.output);
  assert.match(r.output, /^ok {3}node: v\S+ arm64, .* CPU with SHA-512 instructions$/m);
  assert.match(r.output, /^ok {3}node: v\S+ arm64, .* CPU without SHA-512 instructions$/m);
});
