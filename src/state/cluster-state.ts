import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynworkError } from '../errors.js';
import { clusterDir } from './paths.js';

export { clusterDir, stateRoot } from './paths.js';

/** What `deploy` records and every other command reads (mode 0600: it holds the tokens). */
export interface ClusterState {
  provider: 'local' | 'aws';
  name: string;
  createdAt: string;
  clientToken: string;
  workerToken: string;
  /**
   * PEM of the cluster's CA (also in ca.pem beside this file): clients trust
   * only it, and only a certificate naming the manager they mean. Absent for
   * clusters deployed before managers had identities (plain HTTP).
   */
  ca?: string;
  /** The deploy options in force (re-runs start from them). */
  settings: Record<string, unknown>;
  managers: {
    index: number;
    url: string;
    endpointFile?: string;
    dataDir?: string;
    pid?: number | null;
    instanceId?: string;
    /** aws: the private address peers and workers use. */
    privateAddress?: string;
    configHash?: string;
  }[];
}

const FILE = 'cluster.json';

export function readClusterState(name: string): ClusterState | null {
  const file = join(clusterDir(name), FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DynworkError('internal', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text) as ClusterState;
  } catch (err) {
    throw new DynworkError('internal', `${file} is corrupt: ${(err as Error).message}`, {
      cause: err,
      hint: `remove it and run dynwork deploy --cluster ${name} again`,
    });
  }
}

/** Written whole or not at all: a 0600 temp file renamed over the old one. */
export function writeClusterState(state: ClusterState): void {
  const dir = ensureClusterDir(state.name);
  writePrivateFile(join(dir, FILE), JSON.stringify(state, null, 2) + '\n');
}

export function ensureClusterDir(name: string): string {
  const dir = clusterDir(name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Removes the cluster's directory; with keepData, the managers' queues stay for the next deploy. */
/** Removes the cluster's state; the queues stay with `keepData`, the log files with `keepLogs`. */
export function removeClusterState(name: string, opts: { keepData: boolean; keepLogs?: boolean }): void {
  const dir = clusterDir(name);
  const keep = new Set([...(opts.keepData ? ['managers'] : []), ...(opts.keepLogs ? ['logs'] : [])]);
  if (keep.size === 0) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) if (!keep.has(e)) rmSync(join(dir, e), { recursive: true, force: true });
}

