import type { Instance, Provider } from '../providers/types.js';
import { readClusterState, removeClusterState } from '../state/cluster-state.js';
import { checkClusterName } from '../state/paths.js';
import { withClusterLock } from './cluster-lock.js';
import { withStep, type Progress } from './progress.js';

export interface TeardownResult {
  cluster: string;
  removed: { id: string; role: string; pid: number | null }[];
  stateRemoved: boolean;
  nothingToDo: boolean;
}

/**
 * Removes everything the cluster made, found through the provider (not the
 * state file, which may be gone). Managers go first so no leader launches new
 * workers meanwhile; then workers; then a last look for stragglers.
 */
export async function teardown(cluster: string, provider: Provider, progress: Progress, opts: { keepData?: boolean; purge?: boolean; lockWaitS?: number } = {}): Promise<TeardownResult> {
  checkClusterName(cluster);
  return withClusterLock(cluster, 'teardown', progress, () => removeAll(cluster, provider, progress, opts), opts.lockWaitS);
}

async function removeAll(cluster: string, provider: Provider, progress: Progress, opts: { keepData?: boolean; purge?: boolean }): Promise<TeardownResult> {
  const removed: TeardownResult['removed'] = [];
  const stop = async (role: 'manager' | 'worker'): Promise<void> => {
    const found: Instance[] = await provider.list({ cluster, role });
    if (found.length === 0) return;
    await withStep(progress, `Stopping ${found.length} ${role}${found.length === 1 ? '' : 's'}`, () => provider.terminate(found.map((i) => i.id)));
    for (const i of found) removed.push({ id: i.id, role, pid: i.pid ?? null });
  };
  for (let round = 0; round < 3; round++) {
    const before = removed.length;
    await stop('manager');
    await stop('worker');
    if (removed.length === before) break;
  }
  const hadState = readClusterState(cluster) !== null;
  removeClusterState(cluster, { keepData: opts.keepData ?? false, keepLogs: !opts.purge });
  return { cluster, removed, stateRemoved: hadState, nothingToDo: removed.length === 0 && !hadState };
}
