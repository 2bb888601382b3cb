import type { HourlyCost, Provider } from '../providers/types.js';
import type { ManagerStatus } from '../protocol/index.js';
import { connect } from './connect.js';
import { readUrl } from './deploy.js';

export interface ClusterStatus {
  cluster: string;
  provider: string;
  /** What the cluster was deployed with (deploy's options in force). */
  settings: Record<string, unknown>;
  managers: {
    index: number;
    url: string;
    pid: number | null;
    up: boolean;
    leader: boolean;
    error: string | null;
    queued: number | null;
    running: number | null;
    completed: number | null;
    failed: number | null;
    oldestQueuedAgeMs: number | null;
    leaseExpiries: number | null;
  }[];
  workers: { id: string; pid: number | null; state: string; ageMs: number; busy: number | null; lastHeartbeatAgeMs: number | null }[];
  jobsPerSecond: number;
  /** What the cluster's machines cost per hour now. */
  cost: HourlyCost;
  /** Recent events from every manager (expired leases, failed jobs, workers launched or replaced, managers relaunched), oldest first. */
  events: { at: string; manager: number; message: string }[];
}

/** One look at the whole cluster: every manager's own answer, and the provider's list of processes. */
export async function clusterStatus(name: string, provider: Provider, now = Date.now()): Promise<ClusterStatus> {
  const c = connect(name, { timeoutMs: 3000 });
  try {
    const machines = Promise.all([provider.list({ cluster: name, role: 'manager' }), provider.list({ cluster: name, role: 'worker' })]);
    // Pricing waits only for the machine list, not for managers that may take their full timeout to answer.
    const [answers, [managersRunning, workers], cost] = await Promise.all([
      Promise.all(
        c.clients.map(async ({ index, client }) => {
          try {
            return { index, status: await client.status(), error: null };
          } catch (err) {
            return { index, status: null as ManagerStatus | null, error: (err as Error).message };
          }
        }),
      ),
      machines,
      machines.then(([m, w]) => provider.hourlyCost([...m, ...w])),
    ]);
    // A manager that does not answer but whose machine runs: its boot log may say why.
    const bootFailures = new Map(
      await Promise.all(
        answers
          .filter((a) => a.status === null)
          .map(async (a): Promise<[number, string | null]> => {
            const machine = managersRunning.find((i) => i.index === a.index && i.state === 'running');
            return [a.index, machine && provider.bootFailure ? await provider.bootFailure(machine.id).catch(() => null) : null];
          }),
      ),
    );
    const heartbeats = new Map<string, { busy: number; lastSeenAt: string }>();
    for (const a of answers) {
      for (const w of a.status?.workers ?? []) {
        const prev = heartbeats.get(w.instanceId ?? w.workerId);
        if (!prev || prev.lastSeenAt < w.lastSeenAt) heartbeats.set(w.instanceId ?? w.workerId, { busy: w.busy, lastSeenAt: w.lastSeenAt });
      }
    }
    return {
      cluster: name,
      provider: c.state.provider,
      settings: c.state.settings,
      managers: answers.map(({ index, status, error }) => {
        const m = c.state.managers.find((x) => x.index === index)!;
        const proc = managersRunning.find((i) => i.index === index);
        const q = status?.queue;
        return {
          index,
          url: status?.manager.url ?? (m.endpointFile ? readUrl(m.endpointFile) : null) ?? m.url,
          pid: proc?.pid ?? null,
          up: status !== null,
          leader: status?.manager.leader ?? false,
          error: bootFailures.get(index) ?? error,
          queued: q?.queued ?? null,
          running: q?.running ?? null,
          completed: q?.completed ?? null,
          failed: q?.failed ?? null,
          oldestQueuedAgeMs: q?.oldestQueuedAgeMs ?? null,
          leaseExpiries: status?.totals.leaseExpiries ?? null,
        };
      }),
      workers: workers.map((w) => {
        const hb = heartbeats.get(w.id);
        return {
          id: w.id,
          pid: w.pid ?? null,
          state: w.state,
          ageMs: Math.max(0, now - Date.parse(w.launchedAt)),
          busy: hb?.busy ?? null,
          lastHeartbeatAgeMs: hb ? Math.max(0, now - Date.parse(hb.lastSeenAt)) : null,
        };
      }),
      jobsPerSecond: answers.reduce((s, a) => s + (a.status?.throughput ?? 0), 0),
      cost,
      events: answers
        .flatMap((a) => (a.status?.events ?? []).map((e) => ({ at: e.at, manager: a.index, message: e.message })))
        .sort((a, b) => a.at.localeCompare(b.at))
        .slice(-10),
    };
  } finally {
    await c.close();
  }
}
