import { existsSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DynworkError } from '../errors.js';
import { clusterDir, ensureClusterDir } from '../state/cluster-state.js';
import { tryLock, type HeldLock, type LockHolder } from '../state/lock-file.js';
import type { Progress, Step } from './progress.js';

/** How long a deploy or teardown waits for another one on the same cluster. @default 60 */
export const DEFAULT_LOCK_WAIT_S = 60;

/**
 * Runs `fn` as the only deploy or teardown of `cluster` on this machine: two
 * at once would start two sets of managers on the same queues, or record a
 * token no running manager has. A second one waits up to `waitS`, then fails
 * naming the process that holds the cluster.
 */
export async function withClusterLock<T>(cluster: string, what: string, progress: Progress, fn: () => Promise<T>, waitS = DEFAULT_LOCK_WAIT_S): Promise<T> {
  const existed = existsSync(clusterDir(cluster));
  const file = join(ensureClusterDir(cluster), 'deploy.lock');
  const deadline = Date.now() + waitS * 1000;
  let step: Step | undefined;
  let lock: HeldLock | undefined;
  let holder: LockHolder | null = null;
  for (;;) {
    const r = tryLock(file, what);
    if ('release' in r) {
      lock = r;
      break;
    }
    holder = r.heldBy ?? holder;
    const who = holder ? `dynwork ${holder.what} (pid ${holder.pid})` : 'dynwork command';
    if (Date.now() >= deadline) {
      step?.fail();
      throw new DynworkError('timeout', `another ${who} is working on cluster "${cluster}"; wait for it to finish, or stop it${holder ? ` (kill ${holder.pid})` : ''} and run this again`, {
        hint: `the lock is ${file}; it goes by itself when its holder exits, even after kill -9`,
      });
    }
    if (!step) step = progress.step(`Waiting for another ${who} on cluster "${cluster}" to finish`);
    await new Promise((r) => setTimeout(r, 200));
  }
  step?.succeed();
  try {
    return await fn();
  } finally {
    lock.release();
    // The lock needed the directory: a command that made nothing leaves none behind.
    if (!existed) {
      try {
        rmdirSync(dirname(file));
      } catch {
        // not empty, or gone
      }
    }
  }
}
