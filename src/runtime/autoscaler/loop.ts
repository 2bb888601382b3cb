import type { Provider } from '../../providers/types.js';
import type { Logger } from '../../log.js';
import type { ManagerStatus, WorkerView } from '../../protocol/index.js';
import { decide, type Action, type ClusterSnapshot, type ManagerSnapshot, type WorkerSnapshot } from './decide.js';
import type { AutoscalePolicy } from '../../settings/policy.js';

export interface AutoscalerDeps {
  cluster: string;
  selfIndex: number;
  policy: AutoscalePolicy;
  provider: Provider;
  /** This manager's own status (no network). */
  selfStatus(): ManagerStatus;
  /** Every peer's status, null for one that did not answer in time. */
  peerStatuses(): Promise<{ index: number; status: ManagerStatus | null }[]>;
  /**
   * Whether a lower-numbered peer is healthy (then it leads): a cheap check
   * that spares a follower fetching every peer's full status each round.
   */
  lowerPeerHealthy?(): Promise<boolean>;
  /** The config a new worker gets. */
  workerConfig(): Record<string, unknown>;
  /** Starts manager `index` again on its own data. */
  relaunchManager(index: number): Promise<void>;
  setLeader(leader: boolean): void;
  /** Records what the autoscaler did, for /status. */
  event(message: string): void;
  now(): number;
  logger: Logger;
}

export interface Autoscaler {
  /** One decision round now (also what the interval runs); never throws. */
  tick(): Promise<Action[]>;
  close(): Promise<void>;
}

/**
 * The effectful shell around `decide`: every interval, find out whether this
 * manager leads (the lowest-numbered healthy one), look at the cluster, decide,
 * and apply. Ticks never overlap; an error is logged and the next tick retries.
 */
export function startAutoscaler(deps: AutoscalerDeps): Autoscaler {
  const { policy, provider, logger } = deps;
  const memory: Pick<ClusterSnapshot, 'lastLaunchAt' | 'idleSince' | 'lastRelaunchAt'> = { lastLaunchAt: null, idleSince: null, lastRelaunchAt: {} };
  const unhealthySince = new Map<number, number>();
  /** Workers being terminated: the provider resolves once they are gone (minutes on EC2), and rounds go on meanwhile without them. */
  const terminating = new Set<string>();
  let leader = false;
  let running: Promise<Action[]> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const round = async (): Promise<Action[]> => {
    const now = deps.now();
    const follower = deps.lowerPeerHealthy ? await deps.lowerPeerHealthy() : false;
    const peers = follower ? [] : await deps.peerStatuses();
    const isLeader = !follower && !peers.some((p) => p.index < deps.selfIndex && p.status?.healthy === true);
    if (isLeader !== leader) logger.info(isLeader ? 'this manager now leads the autoscaler' : 'another manager leads the autoscaler');
    leader = isLeader;
    deps.setLeader(isLeader);
    if (!isLeader) {
      // A follower is not watching: what it saw while it led is stale. Kept,
      // an old outage would add up with the next one (two short stalls of the
      // leader looking like one long one), and an old idle spell would make
      // the workers look idle for longer than they are.
      unhealthySince.clear();
      memory.idleSince = null;
      return [];
    }

    const [managerInstances, workerInstances] = await Promise.all([provider.list({ cluster: deps.cluster, role: 'manager' }), provider.list({ cluster: deps.cluster, role: 'worker' })]);
    const statuses = [{ index: deps.selfIndex, status: deps.selfStatus() as ManagerStatus | null }, ...peers];
    const managers: ManagerSnapshot[] = statuses.map(({ index, status }) => {
      const healthy = status?.healthy === true;
      if (healthy) unhealthySince.delete(index);
      else if (!unhealthySince.has(index)) unhealthySince.set(index, now);
      const inst = managerInstances.find((i) => i.index === index && i.state !== 'stopped');
      return {
        index,
        healthy,
        unhealthySince: unhealthySince.get(index) ?? null,
        instanceRunning: inst !== undefined,
        instanceId: inst?.id ?? null,
        queued: status?.queue.queued ?? 0,
        running: status?.queue.running ?? 0,
        oldestQueuedAgeMs: status?.queue.oldestQueuedAgeMs ?? null,
        oldestQueuedId: status?.queue.oldestQueuedId ?? null,
        queuedIterations: status?.queue.queuedIterations ?? 0,
      };
    });
    const heartbeats = latestHeartbeats(statuses.flatMap((s) => s.status?.workers ?? []));
    const workers: WorkerSnapshot[] = workerInstances
      .filter((i) => i.state !== 'stopped' && !terminating.has(i.id))
      .map((i) => {
        const hb = heartbeats.get(i.id);
        return {
          instanceId: i.id,
          launchedAt: Date.parse(i.launchedAt),
          lastHeartbeatAt: hb ? Date.parse(hb.lastSeenAt) : null,
          hashRate: hb?.hashRate ?? null,
          threads: hb?.threads ?? null,
          busy: hb?.busy ?? 0,
        };
      });
    const busy = managers.some((m) => m.queued + m.running > 0);
    memory.idleSince = busy ? null : (memory.idleSince ?? now);

    const actions = decide({ managers, workers, ...memory }, policy, now);
    for (const a of actions) await apply(a, now);
    return actions;
  };

  const apply = async (a: Action, now: number): Promise<void> => {
    try {
      if (a.kind === 'launch') {
        memory.lastLaunchAt = now;
        const started = await provider.launch('worker', { cluster: deps.cluster, count: a.count, config: deps.workerConfig() });
        logger.info('launched workers', { count: started.length, instanceIds: started.map((i) => i.id), reason: a.reason });
        deps.event(`launched ${started.length} worker(s): ${a.reason}`);
      } else if (a.kind === 'terminate') {
        logger.info('terminating', { instanceIds: a.instanceIds, reason: a.reason });
        for (const id of a.instanceIds) terminating.add(id);
        void provider
          .terminate(a.instanceIds)
          .then(
            () => deps.event(`terminated ${a.instanceIds.join(', ')}: ${a.reason}`),
            (err: unknown) => {
              logger.error('terminating workers failed; the next round decides again', { instanceIds: a.instanceIds, err: err as Error });
              deps.event(`terminate failed (${(err as Error).message}); retrying next tick`);
            },
          )
          .finally(() => {
            for (const id of a.instanceIds) terminating.delete(id);
          });
      } else {
        memory.lastRelaunchAt[a.index] = now;
        // The replacement is a new machine: an outage of it is a new one, not its predecessor's.
        unhealthySince.set(a.index, now);
        logger.warn('relaunching manager', { peer: a.index, reason: a.reason });
        await deps.relaunchManager(a.index);
        deps.event(`relaunched manager ${a.index}: ${a.reason}`);
      }
    } catch (err) {
      logger.error('autoscaler action failed; retrying next tick', { action: a.kind, reason: a.reason, err: err as Error });
      deps.event(`${a.kind} failed (${(err as Error).message}); retrying next tick`);
    }
  };

  const tick = (): Promise<Action[]> => {
    running ??= round()
      .catch((err: unknown) => {
        logger.error('autoscaler tick failed; retrying next tick', { err: err as Error });
        return [] as Action[];
      })
      .finally(() => {
        running = null;
      });
    return running;
  };

  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      void tick().then(schedule);
    }, policy.intervalMs);
    timer.unref();
  };
  // The first look comes soon, so leadership is known right after start.
  timer = setTimeout(() => void tick().then(schedule), Math.min(500, policy.intervalMs));
  timer.unref();

  return {
    tick,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** Heartbeats as every manager saw them: the newest per worker instance. */
function latestHeartbeats(views: WorkerView[]): Map<string, WorkerView> {
  const out = new Map<string, WorkerView>();
  for (const v of views) {
    const key = v.instanceId ?? v.workerId;
    const prev = out.get(key);
    if (!prev || prev.lastSeenAt < v.lastSeenAt) out.set(key, v);
  }
  return out;
}
