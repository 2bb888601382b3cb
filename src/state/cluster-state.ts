import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynworkError } from '../errors.js';
import { clusterStateSchema, type ClusterState } from '../settings/cluster-state.js';
import { formatIssues } from '../settings/parse.js';
import { clusterDir } from './paths.js';

export { clusterDir, stateRoot } from './paths.js';

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
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DynworkError('internal', `${file} is corrupt: ${(err as Error).message}`, {
      cause: err,
      hint: `remove it and run dynwork deploy --cluster ${name} again`,
    });
  }
  // Checked here, so a hand-edited field is named now rather than failing somewhere later.
  const parsed = clusterStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new DynworkError('internal', `${file} is corrupt: ${formatIssues(parsed.error)}`, {
      hint: `fix the field, or remove the file and run dynwork deploy --cluster ${name} again`,
    });
  }
  return parsed.data;
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
