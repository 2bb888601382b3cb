/**
 * The build that EC2 machines run: the very dynwork this CLI runs from, packed
 * into one tarball whose SHA-256 names it. Deploy uploads it (aws/artifacts.ts)
 * and the boot script refuses any other bytes.
 *
 * Layout (npm pack's, everything under `package/`):
 * - the files `npm pack` would ship (dist, templates, prebuilt addons, …);
 * - `npm-shrinkwrap.json`, the lockfile the tests ran with, so a manager's
 *   `npm ci` installs exactly those versions;
 * - `node_modules/` with only what a worker imports, copied from this
 *   install: all pure JavaScript, so a worker runs the tarball as it is, with
 *   no npm and no compiler (managers replace it with their `npm ci`).
 *
 * The same build packs to the same bytes (sorted entries, fixed times and
 * modes), so a re-deploy uploads nothing and replaces no manager.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { create as createTar } from 'tar';
import { DynworkError } from '../errors.js';

const run = promisify(execFile);

/**
 * The packages a worker imports itself (bin/dynwork.ts → commands/role-worker
 * → runtime/worker, client, job). Their own dependencies come along, but not
 * peer dependencies: commander is listed for @commander-js/extra-typings.
 * test/artifact.test.ts runs a worker from an unpacked artifact, so a missing
 * name here fails there.
 */
export const WORKER_DEPENDENCIES = ['@commander-js/extra-typings', 'commander', 'node-gyp-build', 'p-retry', 'piscina', 'undici', 'zod'] as const;

/** npm's own fixed time for packed files (1985-10-26): the same build gives the same bytes. */
const FIXED_MTIME = new Date('1985-10-26T08:15:00.000Z');
const PACK_TIMEOUT_MS = 120_000;

export interface Artifact {
  /** The tarball on disk (inside `dir`). */
  file: string;
  /** Lowercase hex SHA-256 of the tarball. */
  sha256: string;
  bytes: number;
  /** The package's name@version, for the object's name. */
  name: string;
  version: string;
  /** Removes the scratch directory holding the file. */
  cleanup(): void;
}

/** The root of the dynwork package this code runs from (dist/src/cluster → root). */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

/**
 * Packs the dynwork installed at `root` (by default the one running). Needs
 * npm on PATH, for the list of files `npm pack` ships.
 */
export async function packArtifact(root = packageRoot()): Promise<Artifact> {
  const pkg = readJson(join(root, 'package.json')) as { name: string; version: string };
  const lockFile = ['npm-shrinkwrap.json', 'package-lock.json'].map((f) => join(root, f)).find((f) => existsSync(f));
  if (!lockFile) {
    throw new DynworkError('usage', `cannot pack the dynwork at ${root}: it has no package-lock.json or npm-shrinkwrap.json to pin its dependencies`, {
      hint: 'run deploy from a clone after npm ci, or give --package with a published version or tarball',
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'dynwork-artifact-'));
  try {
    const stage = join(dir, 'package');
    for (const f of await shippedFiles(root)) copyInto(join(root, f), join(stage, f));
    writeFileSync(join(stage, 'npm-shrinkwrap.json'), readFileSync(lockFile));
    copyWorkerDependencies(root, stage);
    normalizeModes(stage);
    const entries = listFiles(dir, 'package').sort();
    const file = join(dir, `${pkg.name}-${pkg.version}.tgz`);
    await createTar({ gzip: true, portable: true, mtime: FIXED_MTIME, cwd: dir, file, noDirRecurse: true }, entries);
    rmSync(stage, { recursive: true, force: true });
    return { file, ...hashFile(file), name: pkg.name, version: pkg.version, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof DynworkError) throw err;
    throw new DynworkError('internal', `could not pack dynwork for the machines: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Fetches a published dynwork (a registry spec like "dynwork@0.2.0", a
 * tarball URL or a local .tgz) as npm pack does, which checks the registry's
 * integrity hash on the way. From then on it is pinned by its SHA-256.
 */
export async function fetchPackageSpec(spec: string): Promise<Artifact> {
  const dir = mkdtempSync(join(tmpdir(), 'dynwork-artifact-'));
  try {
    const { stdout } = await run('npm', ['pack', spec, '--json', '--ignore-scripts', '--pack-destination', dir], { timeout: PACK_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    const [info] = JSON.parse(stdout) as { filename: string; name: string; version: string }[];
    if (!info) throw new Error('npm pack printed nothing');
    const file = join(dir, basename(info.filename));
    return { file, ...hashFile(file), name: info.name, version: info.version, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new DynworkError('usage', `cannot fetch --package ${spec}: ${firstLine(err)}`, {
      hint: 'give a published version (dynwork@0.2.0), an https:// tarball URL or a local .tgz',
      cause: err,
    });
  }
}

/** The files `npm pack` would put in the package, relative to root. */
async function shippedFiles(root: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, timeout: PACK_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }));
  } catch (err) {
    throw new DynworkError('usage', `cannot list dynwork's files with npm pack: ${firstLine(err)}`, { hint: 'deploy to aws needs npm on PATH', cause: err });
  }
  const [info] = JSON.parse(stdout) as { files: { path: string }[] }[];
  const files = (info?.files ?? []).map((f) => f.path);
  if (!files.includes('dist/bin/dynwork.js')) {
    throw new DynworkError('usage', `the dynwork at ${root} is not built (no dist/bin/dynwork.js)`, { hint: 'run npm run build first' });
  }
  return files;
}

/**
 * Copies the worker's dependency tree from this install into stage's
 * node_modules, resolving each name the way Node does (nearest node_modules
 * up from the package that needs it). Direct dependencies are placed first,
 * so the top level holds the versions dynwork itself gets; a clash below
 * nests the other version under the package that needs it.
 */
function copyWorkerDependencies(root: string, stage: string): void {
  const placed = new Map<string, string>(); // destination dir → source dir
  const queue: { name: string; from: string; parentDest: string; optional: boolean }[] = WORKER_DEPENDENCIES.map((name) => ({ name, from: root, parentDest: stage, optional: false }));
  while (queue.length > 0) {
    const { name, from, parentDest, optional } = queue.shift()!;
    const src = resolvePackageDir(name, from);
    if (!src) {
      if (optional) continue;
      throw new DynworkError('internal', `cannot pack the worker's dependency ${name}: not installed beside ${from}`, { hint: 'run npm ci' });
    }
    if (existsSync(join(src, 'binding.gyp'))) throw new DynworkError('internal', `the worker's dependency ${name} is native code; workers ship pure JavaScript only`);
    const top = join(stage, 'node_modules', name);
    const dest = placed.has(top) && placed.get(top) !== src ? join(parentDest, 'node_modules', name) : top;
    if (placed.has(dest)) continue;
    placed.set(dest, src);
    cpSync(src, dest, { recursive: true, dereference: true, filter: (s) => !relative(src, s).split(sep).includes('node_modules') });
    const pkg = readJson(join(src, 'package.json')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: src, parentDest: dest, optional: false });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: src, parentDest: dest, optional: true });
  }
}

function resolvePackageDir(name: string, from: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return null;
  }
}

function copyInto(src: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(src, dest, { dereference: true });
}

/** Same modes whatever the packer's umask: the tarball's bytes depend only on the build. */
function normalizeModes(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      chmodSync(p, 0o755);
      normalizeModes(p);
    } else {
      chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

function listFiles(base: string, rel: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(base, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...listFiles(base, r));
    else out.push(r);
  }
  return out;
}

function hashFile(file: string): { sha256: string; bytes: number } {
  const data = readFileSync(file);
  return { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

function firstLine(err: unknown): string {
  // npm's reason is its first "npm error" line that is prose: warnings, the code/path fields and the log file are noise.
  const e = err as { stderr?: string; message?: string };
  const reason = (e.stderr ?? '')
    .split('\n')
    .map((l) => /^npm (?:error|ERR!) +(.+)$/.exec(l.trim())?.[1])
    .find((l) => l !== undefined && !/^(code|syscall|path|errno|A complete log)\b/.test(l));
  return reason ?? (e.message ?? String(err)).split('\n')[0] ?? 'failed';
}
