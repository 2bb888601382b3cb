/**
 * The build EC2 machines get (src/cluster/artifact.ts): packed from this
 * install, the same bytes every time, and enough on its own for a worker: a
 * real worker process runs from the unpacked tarball, far from this
 * repository's node_modules, and completes a job on a real manager.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { list as listTar, extract } from 'tar';
import { ManagerClient } from '../src/client/manager-client.js';
import { fetchPackageSpec, packArtifact, WORKER_DEPENDENCIES, type Artifact } from '../src/cluster/artifact.js';
import { DynworkError } from '../src/errors.js';
import { endpointFile } from '../src/runtime/manager/server.js';
import { isAlive } from './cli.js';
import { CLIENT_TOKEN, startTestManager, tempDir, waitFor, WORKER_TOKEN } from './helpers.js';
import { expected } from './process-cluster.js';

describe('the packed build', () => {
  let artifact: Artifact;
  let entries: string[];

  before(async () => {
    artifact = await packArtifact();
    entries = [];
    await listTar({ file: artifact.file, onReadEntry: (e) => void entries.push(e.path) });
  });
  after(() => artifact?.cleanup());

  test('packs the same bytes twice, so a re-deploy uploads nothing and replaces no manager', async () => {
    const again = await packArtifact();
    try {
      assert.match(artifact.sha256, /^[0-9a-f]{64}$/);
      assert.equal(again.sha256, artifact.sha256);
      assert.equal(again.bytes, artifact.bytes);
    } finally {
      again.cleanup();
    }
  });

  test('holds the shipped files, the lockfile as npm-shrinkwrap.json, and only what a worker imports', () => {
    for (const f of [
      'package/package.json',
      'package/dist/bin/dynwork.js',
      'package/templates/userdata/bootstrap.sh',
      'package/npm-shrinkwrap.json',
      'package/prebuilds/linux-x64/node.napi.glibc.node',
      'package/prebuilds/linux-arm64/node.napi.glibc.node',
    ]) {
      assert.ok(entries.includes(f), `${f} is in the tarball`);
    }
    for (const dep of WORKER_DEPENDENCIES) assert.ok(entries.includes(`package/node_modules/${dep}/package.json`), `${dep} is bundled`);
    for (const heavy of ['@aws-sdk', 'better-sqlite3', 'express', 'typescript', 'ora']) {
      assert.ok(!entries.some((e) => e.startsWith(`package/node_modules/${heavy}/`)), `${heavy} is not bundled`);
    }
    assert.ok(!entries.some((e) => e.startsWith('package/test/') || e.startsWith('package/dist/test/')), 'no tests shipped');
  });

  test('a worker runs from the unpacked tarball alone, hashing with the prebuilt addon, and completes a job on a real manager', async () => {
    const tmp = tempDir('dynwork-artifact-run-');
    const mdir = tempDir();
    let pid: number | undefined;
    const mgr = await startTestManager(mdir.dir);
    const client = new ManagerClient({ endpoint: mgr.url, token: CLIENT_TOKEN, timeoutMs: 5_000 });
    try {
      await extract({ file: artifact.file, cwd: tmp.dir });
      const app = join(tmp.dir, 'package');
      assert.ok(!existsSync(join(app, 'node_modules', 'better-sqlite3')));
      // As on the machine: the token comes from systemd's credentials directory, the config names it.
      const creds = join(tmp.dir, 'credentials');
      mkdirSync(creds, { mode: 0o700 });
      writeFileSync(join(creds, 'worker-token'), WORKER_TOKEN, { mode: 0o600 });
      const config = join(tmp.dir, 'config.json');
      const managers = [{ index: 1, url: mgr.url, endpointFile: endpointFile(mdir.dir) }];
      writeFileSync(config, JSON.stringify({ cluster: 'artifact', workerId: 'from-tarball', managers, workerTokenFile: 'worker-token', threads: 1, idleTimeoutMs: 60_000 }), { mode: 0o600 });
      const [id] = await client.enqueueBatch([{ data: 'shipped', iterations: 1_000 }]);
      const child = spawn(process.execPath, [join(app, 'dist/bin/dynwork.js'), 'worker', '--config', config], {
        // Nothing from this repository: no NODE_PATH, a working directory inside the unpacked build.
        cwd: app,
        env: { PATH: process.env.PATH ?? '', CREDENTIALS_DIRECTORY: creds },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pid = child.pid;
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const job = await waitFor(
        `the job done by the worker from the tarball (stderr: ${stderr})`,
        async () => {
          if (child.exitCode !== null) throw new Error(`worker exited ${child.exitCode}: ${stderr}`);
          const j = await client.getJob(id!);
          return j.status === 'completed' ? j : null;
        },
        30_000,
      );
      assert.equal(job.result, expected('shipped', 1_000));
      const started = `${stdout}${stderr}`.split('\n').find((l) => l.includes('"worker started"'));
      assert.equal((JSON.parse(started ?? '{}') as { hashBackend?: string }).hashBackend, 'native', 'the prebuilt addon, no compiler needed');
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    } finally {
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
      await client.close();
      await mgr.close();
      mdir.cleanup();
      tmp.cleanup();
    }
  });

  test('--package: a tarball is fetched as npm pack does and pinned by its own SHA-256; one that is not there is one clear line', async () => {
    const tmp = tempDir('dynwork-package-spec-');
    try {
      const fetched = await fetchPackageSpec(artifact.file);
      try {
        assert.equal(fetched.sha256, createHash('sha256').update(readFileSync(fetched.file)).digest('hex'));
        assert.deepEqual([fetched.name, fetched.version], [artifact.name, artifact.version]);
      } finally {
        fetched.cleanup();
      }
      const missing = join(tmp.dir, 'nope.tgz');
      await assert.rejects(fetchPackageSpec(missing), (err: DynworkError) => {
        assert.equal(err.code, 'usage');
        assert.equal(err.message, `cannot fetch --package ${missing}: enoent ENOENT: no such file or directory, open '${missing}'`);
        assert.match(err.hint ?? '', /published version/);
        return true;
      });
    } finally {
      tmp.cleanup();
    }
  });
});
