import type { AutoscalePolicy } from '../../settings/policy.js';

export interface ManagerSnapshot {
  index: number;
  healthy: boolean;
  /** When it was first seen unhealthy in the current outage (reset when it is relaunched). */
  unhealthySince: number | null;
  /** The provider still has a process or instance for it (never start a second one on the same data). */
  instanceRunning: boolean;
  /** Its instance id, when running. */
  instanceId: string | null;
  queued: number;
  running: number;
  oldestQueuedAgeMs: number | null;
  /** The job that waited that long, to name it in the reason. */
  oldestQueuedId?: number | null;
  queuedIterations: number;
}

export interface WorkerSnapshot {
  /** The provider's id: the provider's list is the truth about which workers exist. */
  instanceId: string;
  launchedAt: number;
  /** Latest heartbeat any manager received from it, or null if none yet. */
  lastHeartbeatAt: number | null;
  /** Iterations per second per thread, as the worker measured. */
  hashRate: number | null;
  threads: number | null;
  /** Jobs it holds (running or buffered). */
  busy: number;
}

export interface ClusterSnapshot {
  managers: ManagerSnapshot[];
  workers: WorkerSnapshot[];
  /** Memory the loop carries between ticks. */
  lastLaunchAt: number | null;
  /** Since when nothing has been queued or running anywhere; null while there is work. */
  idleSince: number | null;
  /** When each manager was last relaunched: its boot grace runs from then. */
  lastRelaunchAt: Record<number, number>;
}

export type Action = { kind: 'launch'; count: number; reason: string } | { kind: 'terminate'; instanceIds: string[]; reason: string } | { kind: 'relaunch-manager'; index: number; reason: string };

const s = (ms: number): string => `${Math.round(ms / 100) / 10}s`;

/**
 * The autoscaler's whole judgement, pure: what to launch, terminate and
 * relaunch given one look at the cluster. The loop applies what it returns.
 */
export function decide(snap: ClusterSnapshot, policy: AutoscalePolicy, now: number): Action[] {
  const actions: Action[] = [];

  // Workers that died or never came up.
  const dead: string[] = [];
  const neverUp: string[] = [];
  for (const w of snap.workers) {
    if (w.lastHeartbeatAt !== null && now - w.lastHeartbeatAt > policy.heartbeatTimeoutMs) dead.push(w.instanceId);
    else if (w.lastHeartbeatAt === null && now - w.launchedAt > policy.launchDeadlineMs) neverUp.push(w.instanceId);
  }
  if (dead.length > 0) actions.push({ kind: 'terminate', instanceIds: dead, reason: `no heartbeat for over ${s(policy.heartbeatTimeoutMs)}` });
  if (neverUp.length > 0) {
    actions.push({ kind: 'terminate', instanceIds: neverUp, reason: `never checked in within the launch deadline of ${s(policy.launchDeadlineMs)}` });
  }
  const gone = new Set([...dead, ...neverUp]);
  let alive = snap.workers.filter((w) => !gone.has(w.instanceId));

  // Over the maximum (it was lowered): the idlest go first.
  if (alive.length > policy.maxWorkers) {
    const extra = [...alive].sort((a, b) => a.busy - b.busy || b.launchedAt - a.launchedAt).slice(0, alive.length - policy.maxWorkers);
    actions.push({ kind: 'terminate', instanceIds: extra.map((w) => w.instanceId), reason: `over the maximum of ${policy.maxWorkers} workers` });
    const cut = new Set(extra.map((w) => w.instanceId));
    alive = alive.filter((w) => !cut.has(w.instanceId));
  }

  const queued = sum(snap.managers, (m) => m.queued);
  const queuedIterations = sum(snap.managers, (m) => m.queuedIterations);
  const oldest = Math.max(0, ...snap.managers.map((m) => m.oldestQueuedAgeMs ?? 0));
  const oldestId = snap.managers.find((m) => (m.oldestQueuedAgeMs ?? 0) === oldest)?.oldestQueuedId;

  // Scale up, sized by the backlog.
  const cooling = snap.lastLaunchAt !== null && now - snap.lastLaunchAt < policy.scaleUpCooldownMs;
  if (queued > 0 && oldest >= policy.scaleUpAfterMs && !cooling && alive.length < policy.maxWorkers) {
    const rates = alive.filter((w) => w.hashRate !== null).map((w) => (w.hashRate as number) * (w.threads ?? policy.workerThreads));
    const perWorker = rates.length > 0 ? median(rates) : policy.defaultHashRate * policy.workerThreads;
    // Enough workers to clear the backlog within about one threshold, but never more than there are jobs.
    const forBacklog = Math.min(queued, Math.max(1, Math.ceil(queuedIterations / (perWorker * (policy.scaleUpAfterMs / 1000)))));
    // Workers still starting, and workers with nothing to do, are capacity already on its way.
    const spare = alive.filter((w) => w.lastHeartbeatAt === null || w.busy === 0).length;
    const count = Math.min(policy.maxWorkers - alive.length, forBacklog - spare);
    if (count > 0) {
      actions.push({
        kind: 'launch',
        count,
        reason: `${queued} jobs queued, oldest${oldestId ? ` (job ${oldestId})` : ''} waited ${s(oldest)} (threshold ${s(policy.scaleUpAfterMs)}); backlog needs ${forBacklog} worker(s), ${spare} starting or idle`,
      });
    }
  }

  // Scale to zero: workers exit by themselves when idle; this catches any that did not.
  if (snap.idleSince !== null && now - snap.idleSince >= policy.idleTerminateAfterMs && alive.length > 0) {
    actions.push({ kind: 'terminate', instanceIds: alive.map((w) => w.instanceId), reason: `cluster idle for ${s(now - snap.idleSince)}` });
  }

  // Dead peer managers come back on their own data; a hung one is stopped first.
  for (const m of snap.managers) {
    if (m.healthy || m.unhealthySince === null) continue;
    // A replacement still booting is not hung: left alone until its grace is
    // over, and judged only on what happens after, or every replacement would
    // be stopped mid-boot for its predecessor's outage.
    const last = snap.lastRelaunchAt[m.index];
    const graceEnd = last === undefined ? -Infinity : last + Math.max(policy.managerBootGraceMs, policy.managerRelaunchCooldownMs);
    if (now < graceEnd) continue;
    const down = now - Math.max(m.unhealthySince, graceEnd);
    if (down < policy.managerDeadAfterMs) continue;
    if (!m.instanceRunning) {
      actions.push({ kind: 'relaunch-manager', index: m.index, reason: `manager ${m.index} down for ${s(down)} and its process is gone` });
    } else if (m.instanceId !== null && down >= 3 * policy.managerDeadAfterMs) {
      actions.push({ kind: 'terminate', instanceIds: [m.instanceId], reason: `manager ${m.index} unresponsive for ${s(down)}; stopping it to relaunch` });
    }
  }
  return actions;
}

function sum<T>(xs: readonly T[], f: (x: T) => number): number {
  let t = 0;
  for (const x of xs) t += f(x);
  return t;
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 ? (a[mid] as number) : ((a[mid - 1] as number) + (a[mid] as number)) / 2;
}
