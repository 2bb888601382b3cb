import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, dynwork, isAlive, killAll } from './cli.js';
import { freePorts, tempDir, waitFor } from './helpers.js';

/** The examples in docs/json-output.md, by heading ("deploy", "job", "Errors", ...). */
function documented(): Map<string, unknown> {
  const text = readFileSync(new URL('../../docs/json-output.md', import.meta.url), 'utf8');
  const out = new Map<string, unknown>();
  for (const m of text.matchAll(/^## (?:dynwork (\w+)[^\n]*|(Errors))\n[\s\S]*?```json\n([\s\S]*?)```/gm)) {
    out.set(m[1] ?? m[2]!, JSON.parse(m[3]!.replace('#token=…', '#token=x')));
  }
  return out;
}

/**
 * Where the real output's fields differ from the documented example's: keys
 * missing or extra at any depth, or a value of another type (null stands in
 * for any type: the example may show a field empty that is set here).
 */
function differences(doc: unknown, real: unknown, path = '$'): string[] {
  if (doc === null || real === null) return [];
  if (Array.isArray(doc) || Array.isArray(real)) {
    if (!Array.isArray(doc) || !Array.isArray(real)) return [`${path}: documented ${Array.isArray(doc) ? 'array' : typeof doc}, got ${Array.isArray(real) ? 'array' : typeof real}`];
    if (doc.length === 0) return [];
    return real.flatMap((r, i) => differences(doc[0], r, `${path}[${i}]`));
  }
  if (typeof doc !== typeof real) return [`${path}: documented ${typeof doc}, got ${typeof real}`];
  if (typeof doc !== 'object') return [];
  const d = doc as Record<string, unknown>;
  const r = real as Record<string, unknown>;
  return [
    ...Object.keys(d)
      .filter((k) => !(k in r))
      .map((k) => `${path}.${k}: documented, not printed`),
    ...Object.keys(r)
      .filter((k) => !(k in d))
      .map((k) => `${path}.${k}: printed, not documented`),
    ...Object.keys(d)
      .filter((k) => k in r)
      .flatMap((k) => differences(d[k], r[k], `${path}.${k}`)),
  ];
}

describe('--json output is what docs/json-output.md says', () => {
  let tmp: ReturnType<typeof tempDir>;
  const pids = new Set<number>();
  const docs = documented();
  const cli = (args: string[]) => dynwork(tmp.dir, args, { timeoutMs: 60_000 });
  /** Runs a --json command, checks it against the example under `heading`, returns what it printed. */
  async function checked<T>(heading: string, args: string[], exit = 0): Promise<T> {
    const r = await cli([...args, '--json']);
    assert.equal(r.code, exit, `dynwork ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    assert.equal(r.stderr, '', `dynwork ${args.join(' ')} --json wrote to stderr`);
    const out = JSON.parse(r.stdout) as T;
    assert.ok(docs.has(heading), `docs/json-output.md has no example for ${heading}`);
    assert.deepEqual(differences(docs.get(heading), out), [], `dynwork ${args.join(' ')} --json`);
    return out;
  }

  before(() => {
    tmp = tempDir();
  });
  after(async () => {
    await cli(['teardown']);
    killAll([...pids].filter(isAlive));
    tmp.cleanup();
  });

  test('the shape checker notices a renamed, a missing and a retyped field', () => {
    assert.deepEqual(differences({ a: 1, b: [{ c: 'x' }] }, { a: 1, b: [{ c: 'y' }, { d: 'z' }] }), ['$.b[1].c: documented, not printed', '$.b[1].d: printed, not documented']);
    assert.deepEqual(differences({ a: 1 }, { a: '1' }), ['$.a: documented number, got string']);
    assert.deepEqual(differences({ a: null, b: [] }, { a: { x: 1 }, b: [1] }), []);
  });

  test('every command a script reads, on a real local cluster, and the errors', async () => {
    const [port] = await freePorts(1);
    const deployed = await checked<{ managers: { pid: number }[] }>('deploy', ['deploy', '--port', String(port), '--scale-up-after', '0.2', '--max-workers', '1']);
    for (const m of deployed.managers) pids.add(m.pid);
    const [fast] = (await checked<{ ids: number[] }>('enqueue', ['enqueue', '--iterations', '3', 'a'])).ids;
    // A backlog of several minutes for the one worker: its last job is still queued when it is cancelled.
    const backlog = Array.from({ length: 100 }, (_, i) => `slow-${i}`);
    const slow = (await checked<{ ids: number[] }>('enqueue', ['enqueue', '--iterations', '10000000', ...backlog])).ids.at(-1);
    const job = async (id: number | undefined) => JSON.parse((await cli(['job', String(id), '--json'])).stdout) as { status: string; result: string | null };
    await waitFor('the fast job to complete', async () => (await job(fast)).status === 'completed', 30_000, 200);
    await checked('job', ['job', String(fast)]);
    await checked('jobs', ['jobs', '--state', 'completed', '--limit', '5']);
    const s = await checked<{ workers: { pid: number }[] }>('status', ['status']);
    for (const w of s.workers) pids.add(w.pid);
    assert.equal((await checked<{ status: string }[]>('cancel', ['cancel', String(slow)]))[0]!.status, 'cancelled');
    assert.equal((await checked<{ status: string }[]>('cancel', ['retry', String(slow)]))[0]!.status, 'queued');
    await checked('cancel', ['cancel', String(slow)]);
    assert.deepEqual(await checked('pull', ['pull', '--top', '1', '--wait']), [{ id: fast, result: (await job(fast)).result }]);
    await checked('dashboard', ['dashboard']);
    const e = await checked<{ error: { code: string } }>('Errors', ['status', '--cluster', 'nope'], 1);
    assert.equal(e.error.code, 'not_deployed');
    const usage = await checked<{ error: { code: string; message: string } }>('Errors', ['enqueue', '--iterations', 'x', 'a'], 2);
    assert.deepEqual([usage.error.code, /--iterations/.test(usage.error.message)], ['usage', true]);
    const unknown = await checked<{ error: { code: string; message: string } }>('Errors', ['status', '--bogus'], 2);
    assert.equal(unknown.error.message, "unknown option '--bogus'");
    await checked('teardown', ['teardown']);
    assert.deepEqual([...pids].filter(isAlive), [], 'processes left after teardown');
  });
});

describe('shell completion', () => {
  let tmp: ReturnType<typeof tempDir>;
  /** A PATH where `dynwork` is this build: the scripts call it back at each Tab. */
  let env: NodeJS.ProcessEnv;
  const STATES = ['cancelled', 'completed', 'failed', 'queued', 'running'];

  before(() => {
    tmp = tempDir();
    const shim = join(tmp.dir, 'dynwork');
    writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
    chmodSync(shim, 0o755);
    env = { ...process.env, PATH: `${tmp.dir}:${process.env.PATH ?? ''}`, DYNWORK_HOME: tmp.dir };
  });
  after(() => tmp.cleanup());

  /** What bash offers at the end of `line`, with the bash-completion package loaded as in an interactive shell. */
  function bash(line: string): string[] {
    assert.ok(existsSync('/usr/share/bash-completion/bash_completion'), 'bash-completion is not installed (.ci/run installs it)');
    const script = `source /usr/share/bash-completion/bash_completion; source <(dynwork completion bash)
      COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; read -ra COMP_WORDS <<< "$COMP_LINE"; [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
      COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); __dynwork_complete 2>/dev/null; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['-c', script, 'bash', line], { env, encoding: 'utf8', timeout: 30_000 }).split('\n').filter(Boolean).sort();
  }

  test('bash completes commands, options and option values from the command tree', () => {
    assert.deepEqual(bash('dynwork dep'), ['deploy']);
    assert.deepEqual(bash('dynwork jobs --state '), STATES);
    assert.deepEqual(bash('dynwork deploy --prov'), ['--provider']);
    assert.deepEqual(bash('dynwork deploy --provider '), ['aws', 'local']);
  });

  test('fish completes the same', () => {
    const out = execFileSync('fish', ['-c', 'dynwork completion fish | source; complete -C "dynwork jobs --state "; complete -C "dynwork pu"'], { env, encoding: 'utf8', timeout: 30_000 });
    const words = out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]!);
    assert.deepEqual(words.sort(), [...STATES, 'pull'].sort());
  });

  test('the zsh script is valid zsh, and --help lists completion', async () => {
    const script = execFileSync(process.execPath, [CLI, 'completion', 'zsh'], { env, encoding: 'utf8' });
    assert.match(script, /#compdef dynwork/);
    execFileSync('zsh', ['-n'], { input: script, env, timeout: 30_000 });
    const help = await dynwork(tmp.dir, ['--help']);
    assert.match(help.stdout, /completion <shell>/);
  });

  test('an unknown shell is a usage error', async () => {
    const r = await dynwork(tmp.dir, ['completion', 'tcsh']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /'tcsh' is invalid for argument 'shell'. Allowed choices are zsh, bash, fish, powershell/);
  });
});
