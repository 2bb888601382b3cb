/**
 * What `npm pack` ships is what users run and nothing else: the built CLI and
 * runtime, the files they read at run time, the docs the README links, the
 * licence. No tests, benchmarks, TypeScript sources or source maps, and no
 * build output left over from a deleted source file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
// dist/test → the repository root
const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Shipped as they are, whole (the "files" of package.json that are not built). */
const SHIPPED_DIRS = ['dashboard', 'templates', 'native', 'prebuilds', 'docs'];
const SHIPPED_FILES = ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'npm-shrinkwrap.json'];

async function packedFiles(cwd: string, scripts: boolean): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', ...(scripts ? [] : ['--ignore-scripts'])], {
    cwd,
    timeout: 280_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [info] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return (info?.files ?? []).map((f) => f.path).sort();
}

/** Every file under `dir` (relative to root, with forward slashes). */
function filesUnder(root: string, dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** What the package must hold, from the sources in `root`: each .ts of bin/ and src/ built to one .js, and the rest as it is. */
function expectedFiles(root: string): string[] {
  const built = ['bin', 'src'].flatMap((d) =>
    filesUnder(root, d)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `dist/${f.replace(/\.ts$/, '.js')}`),
  );
  return [...SHIPPED_FILES, ...SHIPPED_DIRS.flatMap((d) => filesUnder(root, d)), ...built].sort();
}

function assertShipsWhatUsersRun(files: string[], root: string): void {
  for (const f of [
    'dist/bin/dynwork.js',
    'dist/src/runtime/manager/server.js',
    'dist/src/runtime/worker/hash-thread.js',
    'LICENSE',
    'README.md',
    'package.json',
    'dashboard/index.html',
    'docs/architecture.md',
  ]) {
    assert.ok(files.includes(f), `${f} is shipped`);
  }
  for (const arch of ['linux-x64', 'linux-arm64']) assert.ok(files.includes(`prebuilds/${arch}/node.napi.glibc.node`), `the ${arch} addon is shipped`);
  const unwanted = files.filter((f) => /^(dist\/(test|bench)|test|bench|src|scripts)\//.test(f) || /\.(map|tsbuildinfo|ts)$/.test(f));
  assert.deepEqual(unwanted, [], 'no tests, benchmarks, sources, source maps or build info');
  const stray = files.filter((f) => !expectedFiles(root).includes(f));
  assert.deepEqual(stray, [], 'nothing but the build of bin/ and src/ and the files listed in package.json (a dist/ file with no source is left from a deleted one: npm run build starts clean)');
  assert.deepEqual(files, expectedFiles(root));
}

test('npm pack of this build ships what users run and nothing else (the file list AWS deploys pack from)', async () => {
  assertShipsWhatUsersRun(await packedFiles(repo, false), repo);
});

test('npm pack from a checkout with a dirty dist/ rebuilds it clean: only bin/ and src/, without source maps', { timeout: 300_000 }, async () => {
  const tmp = tempDir('dynwork-pack-');
  try {
    const root = join(tmp.dir, 'dynwork');
    const leftOver = new Set(['node_modules', 'dist', '.git', 'build', '.tmp', '.node-matrix', 'test-output']);
    cpSync(repo, root, { recursive: true, filter: (src) => !leftOver.has(relative(repo, src).split(sep)[0] ?? '') });
    symlinkSync(realpathSync(join(repo, 'node_modules')), join(root, 'node_modules'));
    // What an older build leaves behind: output of a source since deleted, maps, tests.
    mkdirSync(join(root, 'dist/src'), { recursive: true });
    mkdirSync(join(root, 'dist/test'), { recursive: true });
    writeFileSync(join(root, 'dist/src/deleted-module.js'), 'export {};\n');
    writeFileSync(join(root, 'dist/src/deleted-module.js.map'), '{}\n');
    writeFileSync(join(root, 'dist/test/old.test.js'), 'export {};\n');

    assertShipsWhatUsersRun(await packedFiles(root, true), root);
    assert.deepEqual(readdirSync(join(root, 'dist')).sort(), ['bin', 'src'], 'dist/ holds only what ships');
  } finally {
    tmp.cleanup();
  }
});
