/**
 * `npm run bench:boot`: the part of a worker's boot that dynwork controls,
 * measured on this machine from the real packed build: check its SHA-256,
 * unpack it, start the worker and wait for its first lease from a real
 * manager on 127.0.0.1. (dnf and the S3 fetch need a real EC2 machine; their
 * figures in docs/aws.md are marked as estimates.) Prints a table and writes
 * bench/worker-boot.json; asserts nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagerClient } from '../src/client/manager-client.js';
import { packArtifact } from '../src/cluster/artifact.js';
import { managerConfigSchema } from '../src/settings/manager.js';
import { createLogger } from '../src/log.js';
import { endpointFile, startManager } from '../src/runtime/manager/server.js';

const TOKEN_C = 'bench-client-token-0123456789abcdef';
const TOKEN_W = 'bench-worker-token-0123456789abcdef';
const ms = (t0: number) => Math.round(performance.now() - t0);
const rows: [string, string][] = [];
const row = (k: string, v: string) => {
  rows.push([k, v]);
  process.stderr.write(`  ${k.padEnd(52)} ${v}\n`);
};

const dir = mkdtempSync(join(tmpdir(), 'dynwork-boot-bench-'));
const results: Record<string, string | number> = { date: new Date().toISOString(), node: process.version };
let child: ReturnType<typeof spawn> | undefined;
try {
  let t0 = performance.now();
  const artifact = await packArtifact();
  results.packMs = ms(t0);
  results.artifactBytes = artifact.bytes;
  row('pack the build (deployer, once per build)', `${results.packMs} ms, ${(artifact.bytes / 1e6).toFixed(2)} MB`);

  const machine = join(dir, 'opt-dynwork');
  mkdirSync(machine);
  // The boot script's own commands, in its order.
  t0 = performance.now();
  const got = execFileSync('sha256sum', [artifact.file], { encoding: 'utf8' }).split(' ')[0];
  if (got !== artifact.sha256) throw new Error('hash mismatch');
  results.verifyMs = ms(t0);
  row('sha256sum the tarball', `${results.verifyMs} ms`);
  t0 = performance.now();
  execFileSync('tar', ['-xzf', artifact.file, '-C', machine, '--strip-components=1', '--no-same-owner']);
  results.unpackMs = ms(t0);
  const installedKb = Number(execFileSync('du', ['-sk', machine], { encoding: 'utf8' }).split('\t')[0]);
  results.installedBytes = installedKb * 1024;
  row('unpack (tar -xz)', `${results.unpackMs} ms, ${(installedKb / 1024).toFixed(1)} MiB installed`);
  artifact.cleanup();

  const data = join(dir, 'manager');
  const mgr = await startManager(managerConfigSchema.parse({ index: 1, port: 0, dataDir: data, clientToken: TOKEN_C, workerToken: TOKEN_W }), {
    logger: createLogger({}, { level: 'error', write: () => undefined }),
  });
  const client = new ManagerClient({ endpoint: mgr.url, token: TOKEN_C, timeoutMs: 5_000 });
  const [id] = await client.enqueueBatch([{ data: 'first lease', iterations: 1 }]);
  const creds = join(dir, 'credentials');
  mkdirSync(creds, { mode: 0o700 });
  writeFileSync(join(creds, 'worker-token'), TOKEN_W, { mode: 0o600 });
  const config = join(dir, 'worker.json');
  writeFileSync(config, JSON.stringify({ cluster: 'bench', managers: [{ index: 1, url: mgr.url, endpointFile: endpointFile(data) }], workerTokenFile: 'worker-token' }), { mode: 0o600 });
  t0 = performance.now();
  child = spawn(process.execPath, [join(machine, 'dist/bin/dynwork.js'), 'worker', '--config', config], {
    cwd: machine,
    env: { PATH: process.env.PATH ?? '', CREDENTIALS_DIRECTORY: creds },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const j = await client.getJob(id!);
    if (j.status !== 'queued') break;
    if (Date.now() > deadline) throw new Error('no lease within 60 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  results.startToFirstLeaseMs = ms(t0);
  row('start the worker → its first lease', `${results.startToFirstLeaseMs} ms`);
  child.kill('SIGTERM');
  await new Promise((r) => child!.once('exit', r));
  child = undefined;
  await client.close();
  await mgr.close();
} finally {
  if (child?.pid) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
const file = fileURLToPath(new URL('../../bench/worker-boot.json', import.meta.url));
writeFileSync(file, JSON.stringify({ ...results, table: rows }, null, 2) + '\n');
process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(54)} ${v}`).join('\n')}\n\nwritten to bench/worker-boot.json\n`);
