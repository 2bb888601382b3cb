import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynworkError } from '../errors.js';
import { writePrivateFile } from '../state/cluster-state.js';
import { clusterDir, stateRoot } from '../state/paths.js';
import { startTimeOf } from '../state/process-identity.js';
import type { Instance, LaunchSpec, ListFilter, Provider, Role } from './types.js';

export { startTimeOf } from '../state/process-identity.js';

/** What the local provider keeps per process, enough to find it again and to be sure a PID is still ours. */
interface ProcRecord {
  id: string;
  cluster: string;
  role: Role;
  index?: number;
  pid: number;
  /** /proc/<pid>/stat starttime: a reused PID has another one. */
  startTime: string;
  launchedAt: string;
  configFile: string;
  logFile: string;
  /** Size of the log when this process started: its own output comes after. */
  logOffset?: number;
}

export interface LocalProviderOptions {
  /** State root. @default stateRoot() */
  root?: string;
  /** Script run as `node <entry> <role> --config FILE`. @default the compiled dynwork CLI */
  entry?: string;
  /** How long a process gets after SIGTERM before SIGKILL. @default 10000 */
  graceMs?: number;
}

const DEFAULT_ENTRY = fileURLToPath(new URL('../../bin/dynwork.js', import.meta.url));

/**
 * Real detached Node processes on this host. Each is recorded under
 * `<cluster>/procs/`, so `list` and `terminate` work from any process (a new
 * CLI, a restarted manager) and without cluster.json.
 */
export function createLocalProvider(opts: LocalProviderOptions = {}): Provider {
  const root = opts.root ?? stateRoot();
  const entry = opts.entry ?? DEFAULT_ENTRY;
  const graceMs = opts.graceMs ?? 10_000;
  const dirs = (cluster: string) => {
    const base = clusterDir(cluster, root);
    return { base, procs: join(base, 'procs'), run: join(base, 'run'), logs: join(base, 'logs') };
  };

  const launchOne = async (role: Role, spec: LaunchSpec): Promise<Instance> => {
    const d = dirs(spec.cluster);
    for (const dir of [d.base, d.procs, d.run, d.logs]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id = role === 'manager' ? `manager-${spec.index ?? 0}-${randomBytes(3).toString('hex')}` : `worker-${randomBytes(4).toString('hex')}`;
    const configFile = join(d.run, `${id}.json`);
    const config = role === 'worker' ? { ...spec.config, instanceId: id } : spec.config;
    writePrivateFile(configFile, JSON.stringify(config, null, 2) + '\n');
    const logFile = join(d.logs, role === 'manager' ? `manager-${spec.index ?? 0}.log` : `${id}.log`);
    const fd = openSync(logFile, 'a', 0o600);
    const logOffset = fstatSync(fd).size;
    let pid: number;
    try {
      const child = spawn(process.execPath, [entry, role, '--config', configFile], {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: process.env,
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      pid = child.pid!;
      child.unref();
    } catch (err) {
      throw new DynworkError('provider_error', `cannot start a local ${role}: ${(err as Error).message}`, { cause: err });
    } finally {
      closeSync(fd);
    }
    const record: ProcRecord = {
      id,
      cluster: spec.cluster,
      role,
      ...(spec.index !== undefined ? { index: spec.index } : {}),
      pid,
      startTime: startTimeOf(pid) ?? '',
      launchedAt: new Date().toISOString(),
      configFile,
      logFile,
      logOffset,
    };
    writePrivateFile(join(d.procs, `${id}.json`), JSON.stringify(record) + '\n');
    return toInstance(record, 'running');
  };

  const records = (cluster: string): ProcRecord[] => {
    const { procs } = dirs(cluster);
    let names: string[];
    try {
      names = readdirSync(procs).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: ProcRecord[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(readFileSync(join(procs, n), 'utf8')) as ProcRecord);
      } catch {
        // a record being written right now, or garbage: skip it
      }
    }
    return out;
  };

  const forget = (r: ProcRecord): void => {
    const { procs } = dirs(r.cluster);
    rmSync(join(procs, `${r.id}.json`), { force: true });
    rmSync(r.configFile, { force: true });
  };

  return {
    name: 'local',

    async launch(role, spec) {
      const count = role === 'manager' ? 1 : (spec.count ?? 1);
      const out: Instance[] = [];
      for (let i = 0; i < count; i++) out.push(await launchOne(role, spec));
      return out;
    },

    async list(filter: ListFilter) {
      const out: Instance[] = [];
      for (const r of records(filter.cluster)) {
        if (filter.role && r.role !== filter.role) continue;
        if (isOurs(r)) out.push(toInstance(r, 'running'));
        else {
          if (filter.includeStopped) out.push(toInstance(r, 'stopped'));
          forget(r);
        }
      }
      return out.sort((a, b) => a.launchedAt.localeCompare(b.launchedAt) || a.id.localeCompare(b.id));
    },

    async hourlyCost() {
      return { usdPerHour: 0, basis: 'processes on this machine' };
    },

    async terminate(ids) {
      const wanted = new Set(ids);
      const clusters = readdirSafe(join(root, 'clusters'));
      const targets = clusters.flatMap((c) => records(c)).filter((r) => wanted.has(r.id));
      const live = targets.filter(isOurs);
      for (const r of live) signal(r.pid, 'SIGTERM');
      await waitGone(live, graceMs);
      const stubborn = live.filter(isOurs);
      for (const r of stubborn) signal(r.pid, 'SIGKILL');
      await waitGone(stubborn, 5_000);
      const still = stubborn.filter(isOurs);
      if (still.length > 0) {
        throw new DynworkError('provider_error', `processes ${still.map((r) => r.pid).join(', ')} did not stop after SIGKILL`);
      }
      for (const r of targets) forget(r);
    },
  };
}

function toInstance(r: ProcRecord, state: Instance['state']): Instance {
  return {
    id: r.id,
    cluster: r.cluster,
    role: r.role,
    ...(r.index !== undefined ? { index: r.index } : {}),
    state,
    launchedAt: r.launchedAt,
    pid: r.pid,
    address: '127.0.0.1',
    log: { file: r.logFile, offset: r.logOffset ?? 0 },
  };
}

/** The process is alive, not a zombie, and started when ours did (not a reused PID). */
function isOurs(r: ProcRecord): boolean {
  const st = startTimeOf(r.pid);
  return st !== null && st === r.startTime;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

async function waitGone(rs: ProcRecord[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (rs.some(isOurs) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
