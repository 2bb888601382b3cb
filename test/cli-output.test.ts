import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

const ESC = '\x1b';

/** Runs the CLI until `until` matches its output (or 30 s), then stops it; `tty` gives it a terminal (util-linux script). */
function watch(home: string, args: string[], until: RegExp, opts: { tty?: boolean; env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DYNWORK_HOME: home, ...opts.env };
    delete env.NO_COLOR;
    const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = opts.tty
      ? spawn('script', ['-qefc', `stty cols 100 rows 40; exec ${quoted}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const take = (d: Buffer) => {
      out += d.toString();
      if (until.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

describe('a CLI that behaves in pipes and on terminals', () => {
  let tmp: ReturnType<typeof tempDir>;
  const pids = new Set<number>();
  let deployed: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    tmp = tempDir();
    deployed = await dynwork(tmp.dir, ['deploy', '--cluster', 'out', '--port', String((await freePorts(1))[0]), '--max-workers', '0', '--scale-up-after', '7']);
  });
  after(async () => {
    const s = JSON.parse((await dynwork(tmp.dir, ['status', '--cluster', 'out', '--json'])).stdout) as { managers: { pid: number | null }[] };
    for (const m of s.managers) if (m.pid) pids.add(m.pid);
    await dynwork(tmp.dir, ['teardown', '--cluster', 'out']);
    const left = [...pids].filter(isAlive);
    killAll(left);
    tmp.cleanup();
    assert.deepEqual(left, [], 'processes left running after teardown');
  });

  test('to a pipe: one plain line per step, no spinner frames or colour codes', async () => {
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.ok(!deployed.stderr.includes(ESC), JSON.stringify(deployed.stderr));
    const steps = deployed.stderr.split('\n').filter((l) => /^[✔✖] /.test(l));
    assert.ok(steps.length >= 2, deployed.stderr);
    assert.equal(new Set(steps).size, steps.length, 'no step line twice');
    assert.ok(!/^- /m.test(deployed.stderr), 'no "started" line beside the "done" line');
    // FORCE_COLOR asks for colour even in a pipe; NO_COLOR wins over a terminal.
    const forced = await watch(tmp.dir, ['deploy', '--cluster', 'out'], /nothing changed|unchanged|up/, { env: { FORCE_COLOR: '1' } });
    assert.ok(forced.includes(`${ESC}[32m✔`), JSON.stringify(forced));
  });

  test('DYNWORK_CLUSTER picks the cluster; status shows the settings it was deployed with and fits 80 columns', async () => {
    const r = await dynwork(tmp.dir, ['status'], { env: { DYNWORK_CLUSTER: 'out' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cluster out \(local\)/);
    assert.match(r.stdout, /^settings: managers 2, max workers 0, scale up after 7 s, idle timeout 300 s$/m);
    for (const line of r.stdout.split('\n')) assert.ok(line.length <= 80, `${line.length}: ${line}`);
    const narrow = await dynwork(tmp.dir, ['status', '--cluster', 'out'], { env: { COLUMNS: '50' } });
    for (const line of narrow.stdout.split('\n').filter((l) => /^(MANAGER|[0-9] )/.test(l))) assert.ok(line.length <= 50, `${line.length}: ${line}`);
  });

  test('status --watch: snapshots to a pipe, a redraw in place with its time on a terminal', async () => {
    const piped = await watch(tmp.dir, ['status', '--cluster', 'out', '--watch'], /(^--- .*[\s\S]*){2}/m);
    assert.ok(!piped.includes(ESC), 'no clear-screen codes in a pipe');
    assert.ok((piped.match(/^--- \d{4}-\d\d-\d\dT/gm) ?? []).length >= 2);
    const tty = await watch(tmp.dir, ['status', '--cluster', 'out', '--watch'], /updated at .*Ctrl-C to stop/, { tty: true });
    assert.ok(tty.includes(`${ESC}[H${ESC}[2J`), 'redrawn in place');
    assert.match(tty, /updated at \S+/);
  });

  test('enqueue --file on a terminal shows a bar, the count, the rate and the time left', async () => {
    const file = join(tmp.dir, 'jobs.txt');
    writeFileSync(file, Array.from({ length: 30_000 }, (_, i) => `line-${i}`).join('\n') + '\n');
    const out = await watch(tmp.dir, ['enqueue', '--cluster', 'out', '--iterations', '1', '--file', file], /Enqueued 30000 jobs|dynwork:/, { tty: true });
    assert.match(out, /Sending jobs \[[#.]{20}\] [\d,]+ sent/);
    assert.match(out, /Enqueued 30000 jobs/);
    const piped = await dynwork(tmp.dir, ['enqueue', '--cluster', 'out', '--iterations', '1', '--file', file]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, '', 'to a pipe: the ids and nothing else');
    assert.equal(piped.stdout.trim().split('\n').length, 30_000);
  });

  test('pull --wait on a terminal shows progress and says why nothing comes', async () => {
    const e = await dynwork(tmp.dir, ['enqueue', '--cluster', 'out', '--iterations', '1', 'x']);
    assert.equal(e.code, 0, e.stderr);
    const out = await watch(tmp.dir, ['pull', '--cluster', 'out', '--top', '1', '--wait', '--timeout', '60'], /no worker yet/, { tty: true });
    assert.match(out, /Waiting for results \[\.{20}\] 0\/1/);
    assert.match(out, /no worker yet: the cluster scales up once the oldest job has waited 7 s \(it has waited \d+ s\)/);
    await waitFor('the pull to give back its lease', async () => (await dynwork(tmp.dir, ['status', '--cluster', 'out', '--json'])).code === 0);
  });
});
