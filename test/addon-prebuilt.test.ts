/**
 * The committed prebuilds are what make the hash native on EC2 workers, which
 * have no compiler. So the package is laid out as npm would install it (runtime
 * files only, no build/), and both install and first use run with a PATH that
 * holds `node` and `sh` and nothing else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir, type Vector } from './helpers.js';

// dist/test → the repository root
const repo = fileURLToPath(new URL('../../', import.meta.url));
const vectorsFile = join(repo, 'test/fixtures/vectors.json');
const vectors = (JSON.parse(readFileSync(vectorsFile, 'utf8')) as { vectors: Vector[] }).vectors;
const prebuildDir = join(repo, 'prebuilds', `${process.platform}-${process.arch}`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs to completion; a hang is killed rather than left behind. */
function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 120_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The package as `npm install` leaves it, in `dir`: what `files` ships that the
 * hash needs, node-gyp-build (linked, with its bins), and a bin dir holding
 * only node and sh. Returns the environment npm would give the install script.
 */
function installedCopy(dir: string, withPrebuilds: boolean): NodeJS.ProcessEnv {
  for (const f of ['package.json', 'binding.gyp', 'native', 'dist/src/job/hash.js']) cpSync(join(repo, f), join(dir, f), { recursive: true });
  if (withPrebuilds) cpSync(join(repo, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(realpathSync(join(repo, 'node_modules/node-gyp-build')), join(dir, 'node_modules/node-gyp-build'));
  symlinkSync('../node-gyp-build/bin.js', join(dir, 'node_modules/.bin/node-gyp-build'));
  symlinkSync('../node-gyp-build/build-test.js', join(dir, 'node_modules/.bin/node-gyp-build-test'));
  const bin = join(dir, '.bin-no-compiler');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  return { PATH: `${join(dir, 'node_modules/.bin')}:${bin}` };
}

/** The install script from the copied package.json, run the way npm runs it. */
function install(dir: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const script = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: { install: string } }).scripts.install;
  return run('/bin/sh', ['-c', script], dir, env);
}

/** Imports the copied hash.js in a fresh process and checks it hashes every vector right, with this backend. */
async function assertHashes(dir: string, env: NodeJS.ProcessEnv, expected: 'native' | 'javascript'): Promise<void> {
  const probe = `const m = await import(process.argv[1]);
const { vectors } = JSON.parse((await import('node:fs')).readFileSync(process.argv[2], 'utf8'));
console.log(JSON.stringify({ backend: m.HASH_BACKEND, results: vectors.map((v) => m.iteratedSha512(v.data, v.iterations)) }));`;
  const hashJs = pathToFileURL(join(dir, 'dist/src/job/hash.js')).href;
  const r = await run(process.execPath, ['--input-type=module', '-e', probe, hashJs, vectorsFile], dir, env);
  assert.equal(r.code, 0, r.stderr);
  const { backend, results } = JSON.parse(r.stdout) as { backend: string; results: string[] };
  assert.equal(backend, expected);
  assert.deepEqual(
    results,
    vectors.map((v) => v.result),
  );
}

/** Runs `fn` on an installed copy of the package in a scratch directory (with or without the prebuilds), removed after. */
async function inCopy(withPrebuilds: boolean, fn: (dir: string, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir('dynwork-addon-');
  try {
    await fn(dir, installedCopy(dir, withPrebuilds));
  } finally {
    cleanup();
  }
}

test('the test PATH really has no compiler, make or node-gyp', () =>
  inCopy(false, async (dir, env) => {
    const r = await run('/bin/sh', ['-c', 'command -v cc gcc g++ c++ make node-gyp python3'], dir, env);
    assert.equal(r.stdout, '');
    assert.notEqual(r.code, 0);
  }));

test(`the prebuild for ${process.platform}-${process.arch} installs and hashes natively with no compiler`, async () => {
  assert.ok(existsSync(prebuildDir), `no prebuild committed for this platform: ${prebuildDir}`);
  await inCopy(true, async (dir, env) => {
    const r = await install(dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /JavaScript loop will be used/);
    assert.equal(existsSync(join(dir, 'build')), false, 'install compiled something');
    await assertHashes(dir, env, 'native');
  });
});

test('without a prebuild or a compiler, install still succeeds and the JavaScript loop gives the same results', () =>
  inCopy(false, async (dir, env) => {
    const r = await install(dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /dynwork: no prebuilt SHA-512 addon for this platform and none could be compiled \(no compiler\?\); the JavaScript loop will be used/);
    await assertHashes(dir, env, 'javascript');
  }));

test('DYNWORK_NO_NATIVE forces the JavaScript loop even with the prebuild there', () => inCopy(true, (dir, env) => assertHashes(dir, { ...env, DYNWORK_NO_NATIVE: '1' }, 'javascript')));
